"""HTTP transport for sign-in, sign-out and the current user."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, Field

from telemed import appkeys
from telemed.accounts.devices import device_cookie_name
from telemed.accounts.schemas import PasswordChange
from telemed.errors import InvalidCredentials, TooManyAttempts
from telemed.http.api import Call, api
from telemed.http.auth import (
    anonymous_actor,
    clear_session_cookie,
    current_principal,
    require_own_origin,
    signed_in_response,
)
from telemed.http.openapi import describe
from telemed.http.requests import parse_json
from telemed.shapes import Json, iso

LOGIN_PATH = "/api/v1/auth/login"
OK = {"ok": True}


async def end_live_sessions(app: web.Application, session_ids: list[str]) -> None:
    """Live connections of ended sessions end now, not at the next periodic check."""
    for session_id in session_ids:
        await app[appkeys.SOCKET_CONNECTIONS].end_session(session_id)


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
    actor = anonymous_actor(request, body.username)
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
    settings = request.app[appkeys.SETTINGS]
    response = signed_in_response(request, result, settings.session_lifetime)
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


@api("Sign out: the session ends for cookie and bearer alike.", tag="auth", errors=(401, 403))
async def logout(call: Call[None]) -> web.Response:
    await call.app[appkeys.AUTH_SERVICE].logout(call.actor)
    await end_live_sessions(call.app, [call.actor.user.session_id])
    response = web.json_response(OK)
    clear_session_cookie(response)
    return response


@describe("The signed-in user and the session's CSRF token.", tag="auth", errors=(401,))
async def me(request: web.Request) -> web.Response:
    principal = await current_principal(request)
    return web.json_response({"user": principal.as_json(), "csrf_token": principal.csrf_token})


@api(
    "Change one's own password (the current one confirms it); every other session of the "
    "user ends.",
    tag="auth",
    body=PasswordChange,
    errors=(401, 403, 409, 415, 422),
)
async def change_password(call: Call[PasswordChange]) -> Json:
    ended = await call.app[appkeys.ACCOUNT_SERVICE].change_password(call.actor, call.input)
    await end_live_sessions(call.app, ended)
    return OK


class StepUpBody(BaseModel):
    password: str = Field(min_length=1, max_length=1024)


@api(
    "Step-up: re-enter one's password; the session may then sign decisions for a few "
    "minutes. A wrong password is 403 wrong_password (the session stays) and counts "
    "against the sign-in throttle.",
    tag="auth",
    body=StepUpBody,
    errors=(401, 403, 415, 422, 429),
)
async def step_up(call: Call[StepUpBody]) -> Json:
    at = await call.app[appkeys.AUTH_SERVICE].step_up(call.actor, call.input.password)
    minutes = call.app[appkeys.SETTINGS].step_up_minutes
    return {"stepped_up_at": iso(at), "valid_for_seconds": minutes * 60}


def add_routes(app: web.Application) -> None:
    app.router.add_post(LOGIN_PATH, login)
    app.router.add_post("/api/v1/auth/logout", logout)
    app.router.add_get("/api/v1/me", me)
    app.router.add_post("/api/v1/me/password", change_password)
    app.router.add_post("/api/v1/session/step-up", step_up)
