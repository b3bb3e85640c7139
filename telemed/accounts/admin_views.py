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
from telemed.http.auth import current_actor
from telemed.http.openapi import describe
from telemed.http.requests import parse_json, path_id

ADMIN = "/api/v1/admin"
OK = {"ok": True}
REFUSALS = (403, 404, 409, 415, 422)


async def end_live_sessions(app: web.Application, session_ids: list[str]) -> None:
    """Live connections of ended sessions end now, not at the next periodic check."""
    for session_id in session_ids:
        await app[appkeys.SOCKET_CONNECTIONS].end_session(session_id)


@describe("Every user with their council seats (administrators).", tag="admin", errors=(403,))
async def list_users(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    users = await request.app[appkeys.ACCOUNT_SERVICE].users(actor)
    return web.json_response({"items": users})


@describe(
    "Create a user, optionally seated on a council (administrators).",
    tag="admin",
    body=NewUserInput,
    status=201,
    errors=REFUSALS,
)
async def create_user(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    body = await parse_json(request, NewUserInput)
    seat = Seat(body.council, body.council_role, body.specialty) if body.council else None
    new = NewUser(
        body.username, body.full_name, body.role, body.password, body.facility, seat, body.email
    )
    user = await request.app[appkeys.ACCOUNT_SERVICE].add_user(actor, new)
    return web.json_response(user, status=201)


@describe(
    "Change a user's name, role and facility (administrators; not one's own role).",
    tag="admin",
    body=UserUpdate,
    errors=REFUSALS,
)
async def update_user(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    body = await parse_json(request, UserUpdate)
    user_id = path_id(request, "user_id")
    user = await request.app[appkeys.ACCOUNT_SERVICE].update_user(actor, user_id, body)
    return web.json_response(user)


@describe(
    "Disable a user: every session of theirs ends at once (administrators; not oneself).",
    tag="admin",
    errors=REFUSALS,
)
async def disable_user(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    accounts = request.app[appkeys.ACCOUNT_SERVICE]
    ended = await accounts.disable_user(actor, path_id(request, "user_id"))
    await end_live_sessions(request.app, ended)
    return web.json_response(OK)


@describe("Enable a disabled user again (administrators).", tag="admin", errors=REFUSALS)
async def enable_user(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    await request.app[appkeys.ACCOUNT_SERVICE].enable_user(actor, path_id(request, "user_id"))
    return web.json_response(OK)


@describe(
    "Set a new password for a user; every session of theirs ends (administrators).",
    tag="admin",
    body=PasswordReset,
    errors=REFUSALS,
)
async def reset_password(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    body = await parse_json(request, PasswordReset)
    accounts = request.app[appkeys.ACCOUNT_SERVICE]
    ended = await accounts.reset_password(actor, path_id(request, "user_id"), body.password)
    await end_live_sessions(request.app, ended)
    return web.json_response(OK)


@describe("Every facility (administrators).", tag="admin", errors=(403,))
async def list_facilities(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    facilities = await request.app[appkeys.ORGANISATION_SERVICE].facilities(actor)
    return web.json_response({"items": facilities})


@describe(
    "Create a facility (administrators).",
    tag="admin",
    body=FacilityInput,
    status=201,
    errors=REFUSALS,
)
async def create_facility(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    body = await parse_json(request, FacilityInput)
    facility = await request.app[appkeys.ORGANISATION_SERVICE].create_facility(actor, body)
    return web.json_response(facility, status=201)


@describe(
    "Rename a facility or change its level (administrators).",
    tag="admin",
    body=FacilityUpdate,
    errors=REFUSALS,
)
async def update_facility(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    body = await parse_json(request, FacilityUpdate)
    organisations = request.app[appkeys.ORGANISATION_SERVICE]
    facility = await organisations.update_facility(actor, path_id(request, "facility_id"), body)
    return web.json_response(facility)


@describe("Every council with its members (administrators).", tag="admin", errors=(403,))
async def list_councils(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    councils = await request.app[appkeys.ORGANISATION_SERVICE].councils(actor)
    return web.json_response({"items": councils})


@describe(
    "Create a council seated at a facility (administrators).",
    tag="admin",
    body=CouncilInput,
    status=201,
    errors=REFUSALS,
)
async def create_council(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    body = await parse_json(request, CouncilInput)
    council = await request.app[appkeys.ORGANISATION_SERVICE].create_council(actor, body)
    return web.json_response(council, status=201)


@describe(
    "Rename a council or move its seat (administrators).",
    tag="admin",
    body=CouncilUpdate,
    errors=REFUSALS,
)
async def update_council(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    body = await parse_json(request, CouncilUpdate)
    organisations = request.app[appkeys.ORGANISATION_SERVICE]
    council = await organisations.update_council(actor, path_id(request, "council_id"), body)
    return web.json_response(council)


@describe(
    "Seat a council member on a council as chair, secretary or member, or change the seat "
    "(administrators).",
    tag="admin",
    body=SeatInput,
    errors=REFUSALS,
)
async def set_member(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    body = await parse_json(request, SeatInput)
    await request.app[appkeys.ACCOUNT_SERVICE].set_membership(
        actor,
        path_id(request, "user_id"),
        path_id(request, "council_id"),
        body.council_role,
        body.specialty,
    )
    return web.json_response(OK)


@describe("Remove a member from a council (administrators).", tag="admin", errors=REFUSALS)
async def remove_member(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    await request.app[appkeys.ACCOUNT_SERVICE].remove_membership(
        actor, path_id(request, "user_id"), path_id(request, "council_id")
    )
    return web.json_response(OK)


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
