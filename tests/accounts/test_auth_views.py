"""Sign-in, sessions, sign-out and CSRF through the real HTTP API."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from telemed import appkeys
from telemed.accounts.auth import hash_token
from telemed.accounts.models import AuthSession
from telemed.audit.service import local_operator
from telemed.clock import ManualClock
from telemed.settings import Settings
from tests.support.server import RunningServer


async def test_login_returns_token_csrf_and_user_and_sets_a_strict_cookie(
    server: RunningServer,
) -> None:
    http = server.http()
    async with http.post(
        "/api/v1/auth/login", json={"username": "gs.chutoa", "password": "telemed-demo"}
    ) as response:
        assert response.status == 200
        body = await response.json()
        cookie = response.headers["Set-Cookie"]
    assert len(body["token"]) >= 22  # 32 random bytes, URL-safe base64: 256 bits
    assert body["csrf_token"]
    assert body["csrf_token"] != body["token"]
    user = body["user"]
    assert user["username"] == "gs.chutoa"
    assert user["role"] == "council_member"
    assert user["facility"]["code"] == "BV-THONGNHAT"
    assert [(c["code"], c["council_role"]) for c in user["councils"]] == [("HDCM-MIENNAM", "chair")]
    assert set(user) == {"id", "username", "full_name", "role", "facility", "councils"}
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert body["token"] in cookie


async def test_every_login_issues_a_new_token(server: RunningServer) -> None:
    first = await server.sign_in("bs.namcan")
    second = await server.sign_in("bs.namcan")
    assert first.token != second.token


async def test_wrong_username_and_wrong_password_get_the_same_answer(
    server: RunningServer,
) -> None:
    http = server.http()
    answers = []
    for username, password in [("bs.namcan", "wrong-password"), ("nobody.here", "telemed-demo")]:
        async with http.post(
            "/api/v1/auth/login", json={"username": username, "password": password}
        ) as response:
            answers.append(
                (response.status, await response.json(), "Set-Cookie" in response.headers)
            )
    assert answers[0] == answers[1]
    assert answers[0][0] == 401
    assert answers[0][1] == {
        "error": {"code": "invalid_credentials", "message": "Wrong username or password."}
    }


async def test_disabled_account_cannot_sign_in(server: RunningServer) -> None:
    await server.app[appkeys.ACCOUNT_SERVICE].disable_user(local_operator("test"), "bs.uminh")
    http = server.http()
    async with http.post(
        "/api/v1/auth/login", json={"username": "bs.uminh", "password": "telemed-demo"}
    ) as response:
        assert response.status == 401


async def test_repeated_failures_are_slowed_then_refused_with_429(
    server: RunningServer, clock: ManualClock
) -> None:
    http = server.http()
    statuses = []
    for _ in range(6):
        async with http.post(
            "/api/v1/auth/login", json={"username": "bs.namcan", "password": "nope-nope"}
        ) as response:
            statuses.append(response.status)
            retry_after = response.headers.get("Retry-After")
    # Failures 1-5 answer 401; from the third on the server waits longer each time.
    assert statuses == [401, 401, 401, 401, 401, 429]
    assert clock.sleeps == [0.5, 1.0, 1.5]
    assert retry_after is not None
    assert int(retry_after) > 0
    # Locked out even with the right password, until the window has passed.
    async with http.post(
        "/api/v1/auth/login", json={"username": "bs.namcan", "password": "telemed-demo"}
    ) as response:
        assert response.status == 429
        assert (await response.json())["error"]["code"] == "too_many_attempts"
    clock.advance(15 * 60 + 1)
    async with http.post(
        "/api/v1/auth/login", json={"username": "bs.namcan", "password": "telemed-demo"}
    ) as response:
        assert response.status == 200


async def test_one_address_trying_many_accounts_is_refused(
    server: RunningServer,
) -> None:
    http = server.http()
    statuses = []
    for n in range(21):
        async with http.post(
            "/api/v1/auth/login", json={"username": f"guess{n}", "password": "x"}
        ) as response:
            statuses.append(response.status)
    assert statuses[:20] == [401] * 20
    assert statuses[20] == 429


async def test_me_with_bearer_and_with_cookie(server: RunningServer) -> None:
    signed = await server.sign_in("ts.thuky")
    async with server.http().get("/api/v1/me", headers=signed.bearer) as response:
        assert response.status == 200
        assert (await response.json())["user"]["username"] == "ts.thuky"
    async with signed.http.get("/api/v1/me") as response:
        assert response.status == 200
    async with server.http().get("/api/v1/me") as response:
        assert response.status == 401
        assert (await response.json())["error"]["code"] == "authentication_required"


async def test_session_expires_after_idle_timeout(
    server: RunningServer, clock: ManualClock
) -> None:
    signed = await server.sign_in("bs.namcan")
    for _ in range(3):  # activity keeps the session alive past the idle timeout
        clock.advance(25 * 60)
        async with server.http().get("/api/v1/me", headers=signed.bearer) as response:
            assert response.status == 200
    clock.advance(30 * 60)
    async with server.http().get("/api/v1/me", headers=signed.bearer) as response:
        assert response.status == 401


@pytest.mark.parametrize("ended_by", ["idle", "lifetime"])
async def test_an_ended_session_is_removed_from_the_database_when_next_used(
    server: RunningServer, clock: ManualClock, ended_by: str
) -> None:
    signed = await server.sign_in("bs.namcan")
    clock.advance(31 * 60 if ended_by == "idle" else 12 * 3600)
    async with server.http().get("/api/v1/me", headers=signed.bearer) as response:
        assert response.status == 401
    async with server.app[appkeys.SESSIONMAKER]() as db:
        assert await db.get(AuthSession, hash_token(signed.token)) is None


async def test_session_ends_at_absolute_lifetime_despite_activity(
    server: RunningServer, clock: ManualClock
) -> None:
    signed = await server.sign_in("bs.namcan")
    started = clock.now()
    statuses = []
    for _ in range(12 * 3 + 1):  # a request every 20 minutes for 12 hours and a bit
        clock.advance(20 * 60)
        async with server.http().get("/api/v1/me", headers=signed.bearer) as response:
            statuses.append((clock.now() - started, response.status))
    alive = [elapsed for elapsed, status in statuses if status == 200]
    dead = [elapsed for elapsed, status in statuses if status == 401]
    assert max(alive) < timedelta(hours=12) <= min(dead)
    assert len(alive) + len(dead) == len(statuses)


async def test_logout_invalidates_bearer_and_cookie(server: RunningServer) -> None:
    signed = await server.sign_in("gs.timmach")
    async with signed.http.post(
        "/api/v1/auth/logout", headers={"X-CSRF-Token": signed.csrf_token}
    ) as response:
        assert response.status == 200
    async with server.http().get("/api/v1/me", headers=signed.bearer) as response:
        assert response.status == 401
    other = server.http()
    other.cookie_jar.update_cookies({"telemed_session": signed.token})
    async with other.get("/api/v1/me") as response:
        assert response.status == 401


async def test_logout_by_bearer_needs_no_csrf(server: RunningServer) -> None:
    signed = await server.sign_in("gs.timmach")
    async with server.http().post("/api/v1/auth/logout", headers=signed.bearer) as response:
        assert response.status == 200
    async with signed.http.get("/api/v1/me") as response:
        assert response.status == 401


@pytest.mark.parametrize("header", [None, "not-the-token"])
async def test_cookie_request_without_right_csrf_token_is_refused(
    server: RunningServer, header: str | None
) -> None:
    signed = await server.sign_in("gs.timmach")
    headers = {"X-CSRF-Token": header} if header else {}
    async with signed.http.post("/api/v1/auth/logout", headers=headers) as response:
        assert response.status == 403
        assert (await response.json())["error"]["code"] == "csrf_rejected"
    async with signed.http.get("/api/v1/me") as response:
        assert response.status == 200  # the refused logout did nothing


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"username": "bs.namcan"}, "password"),
        ({"password": "x"}, "username"),
        ({"username": 5, "password": "x"}, "username"),
        ({"username": "", "password": "x"}, "username"),
        ([], "body"),
    ],
)
async def test_malformed_login_body_gets_422_naming_the_field(
    server: RunningServer, payload: object, field: str
) -> None:
    async with server.http().post("/api/v1/auth/login", json=payload) as response:
        assert response.status == 422
        error = (await response.json())["error"]
    assert error["code"] == "validation_error"
    assert field in [item["field"] for item in error["fields"]]
    assert field in error["message"]


async def test_invalid_json_gets_400(server: RunningServer) -> None:
    async with server.http().post(
        "/api/v1/auth/login", data=b"{not json", headers={"Content-Type": "application/json"}
    ) as response:
        assert response.status == 400
        assert (await response.json())["error"]["code"] == "malformed_request"


def signing_in_from(origin: str) -> dict[str, Any]:
    return {
        "json": {"username": "bs.namcan", "password": "telemed-demo"},
        "headers": {"Origin": origin},
    }


@pytest.mark.parametrize("origin", ["https://evil.example", "null", "http://127.0.0.1:1"])
async def test_a_sign_in_from_another_origin_is_refused(server: RunningServer, origin: str) -> None:
    http = server.http()
    async with http.post("/api/v1/auth/login", **signing_in_from(origin)) as response:
        assert response.status == 403
        assert (await response.json())["error"]["code"] == "csrf_rejected"
        assert "Set-Cookie" not in response.headers
    async with http.get("/api/v1/me") as response:
        assert response.status == 401


@pytest.fixture
def allowed_origin_settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(allowed_origins=["https://telemed.example.vn"])


async def test_a_sign_in_from_the_servers_own_origin_passes(server: RunningServer) -> None:
    async with server.http().post("/api/v1/auth/login", **signing_in_from(server.url)) as response:
        assert response.status == 200


async def test_a_sign_in_from_an_allowed_origin_passes(
    allowed_origin_settings: Settings, clock: ManualClock
) -> None:
    running = RunningServer(allowed_origin_settings, clock)
    await running.start()
    try:
        async with running.http().post(
            "/api/v1/auth/login", **signing_in_from("https://telemed.example.vn")
        ) as response:
            assert response.status == 200
    finally:
        await running.close()
