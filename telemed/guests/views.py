"""HTTP transport for guest invitations: create a link, redeem it (page or API)."""

from __future__ import annotations

from aiohttp import web

from telemed import appkeys
from telemed.guests.schemas import InviteInput, RedeemInput
from telemed.http.api import Call, api
from telemed.http.auth import anonymous_actor, require_own_origin, signed_in_response
from telemed.http.openapi import describe
from telemed.http.requests import parse_json
from telemed.pages.views import render
from telemed.shapes import Json


@api(
    "Invite a guest specialist to this case's room and call: a one-time link (chair or secretary).",
    tag="calls",
    body=InviteInput,
    status=201,
    errors=(403, 404, 409, 422),
)
async def create_invite(call: Call[InviteInput]) -> Json:
    service = call.app[appkeys.GUEST_SERVICE]
    invitation = await service.invite(call.actor, call.id("case_id"), call.input)
    url = str(call.request.url.origin().with_path(f"/join/{invitation.token}"))
    return {"url": url, "expires_at": invitation.expires_at.isoformat()}


@describe(
    "Redeem a guest link: a guest session for that one case (token, CSRF token, case).",
    tag="calls",
    body=RedeemInput,
    public=True,
    errors=(403, 404, 415, 422),
)
async def redeem_invite(request: web.Request) -> web.Response:
    require_own_origin(request)
    body = await parse_json(request, RedeemInput)
    guests = request.app[appkeys.GUEST_SERVICE]
    login = await guests.redeem(anonymous_actor(request), body.token)
    lifetime = request.app[appkeys.SETTINGS].guest_session_lifetime
    return signed_in_response(request, login, lifetime, case_id=login.principal.guest_case_id)


async def join_page(request: web.Request) -> web.StreamResponse:
    """The link itself: a page with a Join button, and nothing else. Mail scanners and
    chat link previews open links (GET, HEAD) too; only the button's POST to
    ``/api/v1/guests/redeem`` spends the invitation."""
    token = request.match_info["token"]
    if not 16 <= len(token) <= 128:
        raise web.HTTPNotFound()
    response = render(request, "join.html", None)
    # The token is in the path: never send it onward as a referrer, never cache the page.
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response


@api(
    "Who is invited to this case (chair or secretary): each invitation's guest, expiry and "
    "state (pending, used, expired, revoked); never the link.",
    tag="calls",
    errors=(403, 404),
)
async def list_invites(call: Call[None]) -> Json:
    service = call.app[appkeys.GUEST_SERVICE]
    return {"items": await service.invitations(call.actor, call.id("case_id"))}


@api(
    "Revoke an invitation (chair or secretary): the link stops working and a guest who "
    "used it is signed out.",
    tag="calls",
    errors=(403, 404),
)
async def revoke_invite(call: Call[None]) -> Json:
    service = call.app[appkeys.GUEST_SERVICE]
    return await service.revoke(call.actor, call.id("case_id"), call.id("invite_id"))


def add_routes(app: web.Application) -> None:
    app.router.add_post(r"/api/v1/cases/{case_id:\d+}/invites", create_invite)
    app.router.add_get(r"/api/v1/cases/{case_id:\d+}/invites", list_invites)
    app.router.add_delete(r"/api/v1/cases/{case_id:\d+}/invites/{invite_id:\d+}", revoke_invite)
    app.router.add_post("/api/v1/guests/redeem", redeem_invite)
    app.router.add_get("/join/{token}", join_page)
