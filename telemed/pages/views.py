"""Server-rendered pages: sign-in, the role's home, a new request, the case room, the
audit log, the statistics, the administration of accounts and one's own password.

Transport only. Every page authenticates and sends the signed-out to /login. Pages that
concern cases render a shell; their data comes from the audited JSON API, so that every
read of a case goes through the services and the audit trail exactly as an API call does.
"""

from __future__ import annotations

from typing import Any

import aiohttp_jinja2
from aiohttp import web
from aiohttp.typedefs import Handler

from telemed import appkeys
from telemed.accounts.models import UserRole
from telemed.accounts.principal import Principal
from telemed.errors import Forbidden
from telemed.http.auth import optional_principal
from telemed.http.requests import path_id
from telemed.i18n import LANGUAGE_COOKIE

LANGUAGE_COOKIE_MAX_AGE = 365 * 24 * 3600


async def signed_in(request: web.Request) -> Principal:
    principal = await optional_principal(request)
    if principal is None:
        raise web.HTTPFound("/login")
    return principal


def require_role(principal: Principal, role: UserRole) -> None:
    # Which page a role gets is presentation; the API behind each page authorizes again.
    if principal.role is not role:
        raise Forbidden("This page is not for your role.")


def render(
    request: web.Request,
    template: str,
    principal: Principal | None,
    context: dict[str, Any] | None = None,
) -> web.Response:
    settings = request.app[appkeys.SETTINGS]
    values: dict[str, Any] = {
        "user": principal,
        "idle_timeout": settings.session_idle_timeout,
        **(context or {}),
    }
    response = aiohttp_jinja2.render_template(template, request, values)
    remember_language(request, response)
    return response


def remember_language(request: web.Request, response: web.StreamResponse) -> None:
    """A ``?lang=`` choice becomes the ``lang`` cookie, so the next pages keep it."""
    chosen = request.query.get("lang", "").strip().lower()
    if chosen in request.app[appkeys.CATALOGS].translations:
        response.set_cookie(
            LANGUAGE_COOKIE,
            chosen,
            max_age=LANGUAGE_COOKIE_MAX_AGE,
            path="/",
            samesite="Lax",
            secure=request.app[appkeys.SETTINGS].cookie_secure,
        )


async def login_page(request: web.Request) -> web.StreamResponse:
    if await optional_principal(request) is not None:
        raise web.HTTPFound("/")
    return render(request, "login.html", None)


async def home_page(request: web.Request) -> web.StreamResponse:
    principal = await signed_in(request)
    if principal.guest_case_id is not None:
        # A guest has one place: the room of the case they were invited to.
        raise web.HTTPFound(f"/cases/{principal.guest_case_id}")
    # What the case search may narrow to: a doctor's cases by the council asked, a council
    # member's by the requesting facility (and by council, for a seat on several).
    directory = request.app[appkeys.DIRECTORY]
    choices: dict[str, Any] = {"councils": [], "facilities": []}
    if principal.role is UserRole.DISTRICT_DOCTOR:
        choices["councils"] = await directory.councils()
    elif principal.role is UserRole.COUNCIL_MEMBER:
        choices["councils"] = [{"code": s.code, "name": s.name} for s in principal.councils]
        choices["facilities"] = await directory.facilities()
    return render(request, "home.html", principal, choices)


async def new_case_page(request: web.Request) -> web.StreamResponse:
    principal = await signed_in(request)
    require_role(principal, UserRole.DISTRICT_DOCTOR)
    councils = await request.app[appkeys.DIRECTORY].councils()
    return render(request, "new_case.html", principal, {"councils": councils})


async def case_page(request: web.Request) -> web.StreamResponse:
    principal = await signed_in(request)
    return render(request, "case.html", principal, {"case_id": path_id(request, "case_id")})


def admin_page(template: str) -> Handler:
    """The page of an administrators' tool (audit, statistics, accounts): a shell for its API."""

    async def page(request: web.Request) -> web.StreamResponse:
        principal = await signed_in(request)
        require_role(principal, UserRole.ADMIN)
        return render(request, template, principal)

    return page


async def inbox_page(request: web.Request) -> web.StreamResponse:
    principal = await signed_in(request)
    return render(request, "inbox.html", principal)


async def password_page(request: web.Request) -> web.StreamResponse:
    principal = await signed_in(request)
    if principal.is_guest:
        raise Forbidden("Guests have no password.")
    return render(request, "password.html", principal)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/login", login_page)
    app.router.add_get("/", home_page)
    app.router.add_get("/cases/new", new_case_page)
    app.router.add_get(r"/cases/{case_id:\d+}", case_page)
    app.router.add_get("/audit", admin_page("audit.html"))
    app.router.add_get("/stats", admin_page("stats.html"))
    app.router.add_get("/admin/users", admin_page("admin_users.html"))
    app.router.add_get("/admin/councils", admin_page("admin_councils.html"))
    app.router.add_get("/admin/facilities", admin_page("admin_facilities.html"))
    app.router.add_get("/account/password", password_page)
    app.router.add_get("/inbox", inbox_page)
