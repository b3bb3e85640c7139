"""HTTP transport for sign-in, sign-out and the current user."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, Field

from telemed import appkeys
from telemed.accounts.devices import device_cookie_name
from telemed.accounts.principal import Actor
from telemed.accounts.schemas import PasswordChange
from telemed.errors import InvalidCredentials, TooManyAttempts
from telemed.http.auth import (
    clear_session_cookie,
    current_actor,
    current_principal,
    request_address,
    require_own_origin,
    set_session_cookie,
)
from telemed.http.openapi import describe
from telemed.http.requests import parse_json
from telemed.logs import request_id_var
from telemed.shapes import iso

LOGIN_PATH = "/api/v1/auth/login"


class LoginBody(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


@describe(
    "Sign in: a session token, its CSRF token and the user; sets the session cookie.",
    tag="auth",
    body=LoginBody,
    public=True,
    errors=(401, 403, 415, 422, 429),
)
async def login(request: web.Request) -> web.Response:
    require_own_origin(request)
    body = await parse_json(request, LoginBody)
    actor = Actor(
        None, request_address(request), request_id_var.get(), attempted_username=body.username
    )
    device_cookie = request.cookies.get(device_cookie_name(body.username))
    try:
        result = await request.app[appkeys.AUTH_SERVICE].login(
            body.username, body.password, actor, device_cookie
        )
    except InvalidCredentials:
        request.app[appkeys.METRICS].sign_in_failed("invalid_credentials")
        raise
    except TooManyAttempts:
        request.app[appkeys.METRICS].sign_in_failed("throttled")
        raise
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
    if result.device_cookie is not None:
        response.set_cookie(
            device_cookie_name(body.username),
            result.device_cookie,
            # Sent with sign-ins only, never to another site.
            path=LOGIN_PATH,
            httponly=True,
            samesite="Strict",
            secure=settings.cookie_secure,
            max_age=settings.login_known_device_lifetime,
        )
    return response


@describe("Sign out: the session ends for cookie and bearer alike.", tag="auth", errors=(401, 403))
async def logout(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    await request.app[appkeys.AUTH_SERVICE].logout(actor)
    # Live connections of this session end now, not at the next periodic check.
    await request.app[appkeys.SOCKET_CONNECTIONS].end_session(actor.user.session_id)
    response = web.json_response({"ok": True})
    clear_session_cookie(response)
    return response


@describe("The signed-in user and the session's CSRF token.", tag="auth", errors=(401,))
async def me(request: web.Request) -> web.Response:
    principal = await current_principal(request)
    return web.json_response({"user": principal.as_json(), "csrf_token": principal.csrf_token})


@describe(
    "Change one's own password (the current one confirms it); every other session of the "
    "user ends.",
    tag="auth",
    body=PasswordChange,
    errors=(401, 403, 409, 415, 422),
)
async def change_password(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    body = await parse_json(request, PasswordChange)
    ended = await request.app[appkeys.ACCOUNT_SERVICE].change_password(actor, body)
    for session_id in ended:
        await request.app[appkeys.SOCKET_CONNECTIONS].end_session(session_id)
    return web.json_response({"ok": True})


class StepUpBody(BaseModel):
    password: str = Field(min_length=1, max_length=1024)


@describe(
    "Step-up: re-enter one's password; the session may then sign decisions for a few "
    "minutes. A wrong password is 403 wrong_password (the session stays) and counts "
    "against the sign-in throttle.",
    tag="auth",
    body=StepUpBody,
    errors=(401, 403, 415, 422, 429),
)
async def step_up(request: web.Request) -> web.Response:
    actor = await current_actor(request)
    body = await parse_json(request, StepUpBody)
    at = await request.app[appkeys.AUTH_SERVICE].step_up(actor, body.password)
    settings = request.app[appkeys.SETTINGS]
    return web.json_response(
        {"stepped_up_at": iso(at), "valid_for_seconds": settings.step_up_minutes * 60}
    )


def add_routes(app: web.Application) -> None:
    app.router.add_post(LOGIN_PATH, login)
    app.router.add_post("/api/v1/auth/logout", logout)
    app.router.add_get("/api/v1/me", me)
    app.router.add_post("/api/v1/me/password", change_password)
    app.router.add_post("/api/v1/session/step-up", step_up)
