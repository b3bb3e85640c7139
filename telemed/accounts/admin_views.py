"""HTTP transport for the administration of users, councils and facilities (administrators)."""

from __future__ import annotations

from aiohttp import web

from telemed import appkeys
from telemed.accounts.schemas import (
    CouncilInput,
    CouncilUpdate,
    FacilityInput,
    FacilityUpdate,
    NewUserInput,
    PasswordReset,
    SeatInput,
    UserUpdate,
)
from telemed.accounts.service import NewUser, Seat
from telemed.accounts.views import OK, end_live_sessions
from telemed.http.api import Call, api
from telemed.shapes import Json

ADMIN = "/api/v1/admin"
REFUSALS = (403, 404, 409, 415, 422)


@api("Every user with their council seats (administrators).", tag="admin", errors=(403,))
async def list_users(call: Call[None]) -> Json:
    return {"items": await call.app[appkeys.ACCOUNT_SERVICE].users(call.actor)}


@api(
    "Create a user, optionally seated on a council (administrators).",
    tag="admin",
    body=NewUserInput,
    status=201,
    errors=REFUSALS,
)
async def create_user(call: Call[NewUserInput]) -> Json:
    body = call.input
    seat = Seat(body.council, body.council_role, body.specialty) if body.council else None
    new = NewUser(
        body.username, body.full_name, body.role, body.password, body.facility, seat, body.email
    )
    return await call.app[appkeys.ACCOUNT_SERVICE].add_user(call.actor, new)


@api(
    "Change a user's name, role and facility (administrators; not one's own role).",
    tag="admin",
    body=UserUpdate,
    errors=REFUSALS,
)
async def update_user(call: Call[UserUpdate]) -> Json:
    accounts = call.app[appkeys.ACCOUNT_SERVICE]
    return await accounts.update_user(call.actor, call.id("user_id"), call.input)


@api(
    "Disable a user: every session of theirs ends at once (administrators; not oneself).",
    tag="admin",
    errors=REFUSALS,
)
async def disable_user(call: Call[None]) -> Json:
    ended = await call.app[appkeys.ACCOUNT_SERVICE].disable_user(call.actor, call.id("user_id"))
    await end_live_sessions(call.app, ended)
    return OK


@api("Enable a disabled user again (administrators).", tag="admin", errors=REFUSALS)
async def enable_user(call: Call[None]) -> Json:
    await call.app[appkeys.ACCOUNT_SERVICE].enable_user(call.actor, call.id("user_id"))
    return OK


@api(
    "Set a new password for a user; every session of theirs ends (administrators).",
    tag="admin",
    body=PasswordReset,
    errors=REFUSALS,
)
async def reset_password(call: Call[PasswordReset]) -> Json:
    accounts = call.app[appkeys.ACCOUNT_SERVICE]
    ended = await accounts.reset_password(call.actor, call.id("user_id"), call.input.password)
    await end_live_sessions(call.app, ended)
    return OK


@api("Every facility (administrators).", tag="admin", errors=(403,))
async def list_facilities(call: Call[None]) -> Json:
    return {"items": await call.app[appkeys.ORGANISATION_SERVICE].facilities(call.actor)}


@api(
    "Create a facility (administrators).",
    tag="admin",
    body=FacilityInput,
    status=201,
    errors=REFUSALS,
)
async def create_facility(call: Call[FacilityInput]) -> Json:
    return await call.app[appkeys.ORGANISATION_SERVICE].create_facility(call.actor, call.input)


@api(
    "Rename a facility or change its level (administrators).",
    tag="admin",
    body=FacilityUpdate,
    errors=REFUSALS,
)
async def update_facility(call: Call[FacilityUpdate]) -> Json:
    organisations = call.app[appkeys.ORGANISATION_SERVICE]
    return await organisations.update_facility(call.actor, call.id("facility_id"), call.input)


@api("Every council with its members (administrators).", tag="admin", errors=(403,))
async def list_councils(call: Call[None]) -> Json:
    return {"items": await call.app[appkeys.ORGANISATION_SERVICE].councils(call.actor)}


@api(
    "Create a council seated at a facility (administrators).",
    tag="admin",
    body=CouncilInput,
    status=201,
    errors=REFUSALS,
)
async def create_council(call: Call[CouncilInput]) -> Json:
    return await call.app[appkeys.ORGANISATION_SERVICE].create_council(call.actor, call.input)


@api(
    "Rename a council or move its seat (administrators).",
    tag="admin",
    body=CouncilUpdate,
    errors=REFUSALS,
)
async def update_council(call: Call[CouncilUpdate]) -> Json:
    organisations = call.app[appkeys.ORGANISATION_SERVICE]
    return await organisations.update_council(call.actor, call.id("council_id"), call.input)


@api(
    "Seat a council member on a council as chair, secretary or member, or change the seat "
    "(administrators).",
    tag="admin",
    body=SeatInput,
    errors=REFUSALS,
)
async def set_member(call: Call[SeatInput]) -> Json:
    seat = call.input
    await call.app[appkeys.ACCOUNT_SERVICE].set_membership(
        call.actor, call.id("user_id"), call.id("council_id"), seat.council_role, seat.specialty
    )
    return OK


@api("Remove a member from a council (administrators).", tag="admin", errors=REFUSALS)
async def remove_member(call: Call[None]) -> Json:
    await call.app[appkeys.ACCOUNT_SERVICE].remove_membership(
        call.actor, call.id("user_id"), call.id("council_id")
    )
    return OK


def add_routes(app: web.Application) -> None:
    router = app.router
    router.add_get(f"{ADMIN}/users", list_users)
    router.add_post(f"{ADMIN}/users", create_user)
    router.add_put(rf"{ADMIN}/users/{{user_id:\d+}}", update_user)
    router.add_post(rf"{ADMIN}/users/{{user_id:\d+}}/disable", disable_user)
    router.add_post(rf"{ADMIN}/users/{{user_id:\d+}}/enable", enable_user)
    router.add_post(rf"{ADMIN}/users/{{user_id:\d+}}/password", reset_password)
    router.add_get(f"{ADMIN}/facilities", list_facilities)
    router.add_post(f"{ADMIN}/facilities", create_facility)
    router.add_put(rf"{ADMIN}/facilities/{{facility_id:\d+}}", update_facility)
    router.add_get(f"{ADMIN}/councils", list_councils)
    router.add_post(f"{ADMIN}/councils", create_council)
    router.add_put(rf"{ADMIN}/councils/{{council_id:\d+}}", update_council)
    members = rf"{ADMIN}/councils/{{council_id:\d+}}/members/{{user_id:\d+}}"
    router.add_put(members, set_member)
    router.add_delete(members, remove_member)
