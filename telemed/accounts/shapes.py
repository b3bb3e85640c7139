"""The JSON shapes of facilities, councils and users as the administration API returns them.

Never a password hash or a session: what an administrator needs to manage accounts.
"""

from __future__ import annotations

from collections.abc import Iterable

from telemed.accounts.models import Council, CouncilMembership, Facility, User
from telemed.shapes import Json


def ref(record: Facility | Council) -> Json:
    return {"id": record.id, "code": record.code, "name": record.name}


def facility_json(facility: Facility) -> Json:
    return {**ref(facility), "level": facility.level.value}


def seat_json(membership: CouncilMembership) -> Json:
    return {**ref(membership.council), **_seat(membership)}


def _seat(membership: CouncilMembership) -> Json:
    return {"council_role": membership.council_role.value, "specialty": membership.specialty}


def user_json(user: User, memberships: Iterable[CouncilMembership] = ()) -> Json:
    return {
        "id": user.id,
        "username": user.username,
        "full_name": user.full_name,
        "role": user.role.value,
        "facility": ref(user.facility) if user.facility else None,
        "is_active": user.is_active,
        "email": user.email,
        "created_at": user.created_at.isoformat(),
        "councils": [seat_json(m) for m in memberships],
    }


def member_json(membership: CouncilMembership, user: User) -> Json:
    return {
        "user": {
            "id": user.id,
            "username": user.username,
            "full_name": user.full_name,
            "is_active": user.is_active,
        },
        **_seat(membership),
    }


def council_json(council: Council, members: Iterable[Json] = ()) -> Json:
    return {
        **ref(council),
        "seat_facility": ref(council.seat_facility),
        "members": list(members),
    }
