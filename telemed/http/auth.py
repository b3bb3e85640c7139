"""Who sent this request: a bearer token or the session cookie, with CSRF for the cookie."""

from __future__ import annotations

import hmac

from aiohttp import web

from telemed import appkeys
from telemed.accounts.auth import LoginResult
from telemed.accounts.principal import Actor, Principal
from telemed.errors import AuthenticationRequired, CsrfRejected
from telemed.http.requests import client_address
from telemed.logs import request_id_var

SESSION_COOKIE = "telemed_session"
CSRF_HEADER = "X-CSRF-Token"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def session_token(request: web.Request) -> tuple[str, bool] | None:
    """The session token and whether it came from the cookie (rather than a bearer header)."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip(), False
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        return cookie, True
    return None


async def current_principal(request: web.Request) -> Principal:
    """The signed-in principal, or AuthenticationRequired / CsrfRejected."""
    found = session_token(request)
    if found is None:
        raise AuthenticationRequired()
    token, from_cookie = found
    principal = await request.app[appkeys.AUTH_SERVICE].authenticate(token)
    if from_cookie and request.method not in _SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        if not hmac.compare_digest(sent.encode(), principal.csrf_token.encode()):
            raise CsrfRejected()
    return principal


async def optional_principal(request: web.Request) -> Principal | None:
    try:
        return await current_principal(request)
    except AuthenticationRequired:
        return None


def signed_in_response(
    request: web.Request, login: LoginResult, max_age: int, **extra: object
) -> web.Response:
    """The answer to a sign-in: the session's token, its CSRF token and the user (and
    ``extra``), with the session cookie that browsers use instead of the token."""
    user = login.principal.as_json()
    response = web.json_response(
        {"token": login.token, "csrf_token": login.csrf_token, "user": user, **extra}
    )
    response.set_cookie(
        SESSION_COOKIE,
        login.token,
        httponly=True,
        samesite="Lax",
        secure=request.app[appkeys.SETTINGS].cookie_secure,
        path="/",
        max_age=max_age,
    )
    return response


def clear_session_cookie(response: web.StreamResponse) -> None:
    response.del_cookie(SESSION_COOKIE, path="/")


def require_own_origin(request: web.Request) -> None:
    """Sign-ins come from this server's own pages (or ``TELEMED_ALLOWED_ORIGINS``) only,
    so that another site cannot sign a visitor's browser in to an account of its choosing.

    Browsers send ``Origin`` with every cross-origin request and every ``fetch`` POST, and
    a page cannot remove it: a request without one is not a browser's (a script, ``curl``)
    and has no victim's cookies to abuse, so it passes. ``Origin: null`` (sandboxed or
    opaque pages) is refused.
    """
    origin = request.headers.get("Origin")
    if origin is None:
        return
    own = f"{request.scheme}://{request.host}".lower()
    allowed = {
        own,
        *(item.rstrip("/").lower() for item in request.app[appkeys.SETTINGS].allowed_origins),
    }
    if origin.rstrip("/").lower() not in allowed:
        raise CsrfRejected("Sign-in is accepted from this site's own pages only.")


def request_address(request: web.Request) -> str:
    settings = request.app[appkeys.SETTINGS]
    return client_address(
        request.remote, request.headers.get("X-Forwarded-For"), settings.trusted_proxies
    )


def anonymous_actor(request: web.Request, attempted_username: str | None = None) -> Actor:
    """No one is signed in yet (a sign-in, a guest link): where the request came from."""
    return Actor(None, request_address(request), request_id_var.get(), attempted_username)


async def current_actor(request: web.Request) -> Actor:
    """The signed-in principal with where the request came from, for services to audit."""
    principal = await current_principal(request)
    return Actor(principal, request_address(request), request_id_var.get())
