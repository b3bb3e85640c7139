"""Authenticating a Socket.IO connection: ``auth.token`` or the browser's session cookie."""

from __future__ import annotations

from collections.abc import Mapping
from http.cookies import CookieError, SimpleCookie
from typing import Any

from telemed.accounts.auth import AuthService
from telemed.accounts.principal import Principal
from telemed.errors import AuthenticationRequired
from telemed.http.auth import SESSION_COOKIE


def connection_token(environ: Mapping[str, Any], auth: object) -> str | None:
    if isinstance(auth, dict):
        token = auth.get("token")
        if isinstance(token, str) and token:
            return token
    raw = environ.get("HTTP_COOKIE")
    if not raw:
        return None
    try:
        cookie = SimpleCookie(raw)
    except CookieError:
        return None
    morsel = cookie.get(SESSION_COOKIE)
    return morsel.value if morsel and morsel.value else None


async def authenticate_connection(
    auth_service: AuthService, environ: Mapping[str, Any], auth: object
) -> Principal:
    token = connection_token(environ, auth)
    if token is None:
        raise AuthenticationRequired()
    return await auth_service.authenticate(token)
