"""Who is asking: the signed-in user as every service sees it."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from telemed.accounts.models import CouncilRole, UserRole


class GuestRole(enum.StrEnum):
    """A guest specialist invited to one case's call: not an account (no ``users`` row)."""

    GUEST = "guest"


class SystemRole(enum.StrEnum):
    """Telemed itself, for what happens on a clock (a deadline reached): no account."""

    SYSTEM = "system"


@dataclass(frozen=True)
class FacilityRef:
    id: int
    code: str
    name: str
    level: str

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "code": self.code, "name": self.name, "level": self.level}


@dataclass(frozen=True)
class CouncilSeat:
    """One council the user sits on, and in which capacity."""

    council_id: int
    code: str
    name: str
    council_role: CouncilRole
    specialty: str

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.council_id,
            "code": self.code,
            "name": self.name,
            "council_role": self.council_role.value,
            "specialty": self.specialty,
        }


@dataclass(frozen=True)
class Principal:
    user_id: int
    username: str
    full_name: str
    role: UserRole | GuestRole | SystemRole
    facility: FacilityRef | None
    councils: tuple[CouncilSeat, ...] = field(default_factory=tuple)
    # The session this request came in on: its hash (never the token) and CSRF token.
    session_id: str = ""
    csrf_token: str = ""
    # Guests only: the one case whose room and call they were invited to. Guests have no
    # account, so their ``user_id`` is minus their invitation's id (never a user's id).
    guest_case_id: int | None = None
    # When the user last re-entered their password in this session (a step-up), if ever:
    # a signature needs a recent one (telemed/cases/decisions.py).
    stepped_up_at: datetime | None = None

    @property
    def is_guest(self) -> bool:
        return self.guest_case_id is not None

    @property
    def is_system(self) -> bool:
        return self.role is SystemRole.SYSTEM

    def seat(self, council_id: int) -> CouncilSeat | None:
        return next((s for s in self.councils if s.council_id == council_id), None)

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.user_id,
            "username": self.username,
            "full_name": self.full_name,
            "role": self.role.value,
            "facility": self.facility.as_json() if self.facility else None,
            "councils": [seat.as_json() for seat in self.councils],
        }


@dataclass(frozen=True)
class Actor:
    """Who acts, from where, in which request: what services authorize and audit.

    ``principal`` is None for anonymous actions (a sign-in attempt), where
    ``attempted_username`` names the account tried.
    """

    principal: Principal | None
    address: str
    request_id: str
    attempted_username: str | None = None

    @property
    def user(self) -> Principal:
        assert self.principal is not None, "an anonymous actor reached a signed-in action"
        return self.principal


# The actor of events no person caused: its events name no actor, its audit rows no user id.
SYSTEM = Principal(
    user_id=0, username="system", full_name="Telemed", role=SystemRole.SYSTEM, facility=None
)


def system_actor(request_id: str) -> Actor:
    return Actor(SYSTEM, "system", request_id)
