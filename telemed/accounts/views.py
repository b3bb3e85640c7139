"""HTTP transport for sign-in, sign-out and the current user."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, Field

from telemed import appkeys
from telemed.http.auth import (
    clear_session_cookie,
    current_principal,
    request_address,
    set_session_cookie,
)
from telemed.http.requests import parse_json


class LoginBody(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


async def login(request: web.Request) -> web.Response:
    body = await parse_json(request, LoginBody)
    result = await request.app[appkeys.AUTH_SERVICE].login(
        body.username, body.password, request_address(request)
    )
    response = web.json_response(
        {
            "token": result.token,
            "csrf_token": result.csrf_token,
            "user": result.principal.as_json(),
        }
    )
    settings = request.app[appkeys.SETTINGS]
    set_session_cookie(
        response, result.token, secure=settings.cookie_secure, max_age=settings.session_lifetime
    )
    return response


async def logout(request: web.Request) -> web.Response:
    principal = await current_principal(request)
    await request.app[appkeys.AUTH_SERVICE].logout(principal)
    response = web.json_response({"ok": True})
    clear_session_cookie(response)
    return response


async def me(request: web.Request) -> web.Response:
    principal = await current_principal(request)
    return web.json_response({"user": principal.as_json(), "csrf_token": principal.csrf_token})


def add_routes(app: web.Application) -> None:
    app.router.add_post("/api/v1/auth/login", login)
    app.router.add_post("/api/v1/auth/logout", logout)
    app.router.add_get("/api/v1/me", me)
