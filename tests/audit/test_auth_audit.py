"""Sign-in, failed sign-in, refusal and sign-out are recorded, never with a secret."""

from __future__ import annotations

import pytest

from telemed.clock import ManualClock
from tests.support.audit import audit_rows, verify
from tests.support.server import RunningServer


async def test_a_sign_in_is_recorded_as_the_user_with_address_and_request_id(
    server: RunningServer, database_url: str
) -> None:
    async with server.http().post(
        "/api/v1/auth/login", json={"username": "bs.namcan", "password": "telemed-demo"}
    ) as response:
        assert response.status == 200
        request_id = response.headers["X-Request-ID"]
        user = (await response.json())["user"]
    [row] = await audit_rows(database_url, action="auth.login")
    assert row["outcome"] == "success"
    assert row["actor_id"] == user["id"]
    assert row["actor_username"] == "bs.namcan"
    assert row["actor_role"] == "district_doctor"
    assert row["actor_facility"] == "TTYT-NAMCAN"
    assert row["address"] == "127.0.0.1"
    assert row["request_id"] == request_id


@pytest.mark.parametrize("username", ["bs.namcan", "nobody.here"])
async def test_a_failed_sign_in_is_recorded_as_denied_for_the_name_tried(
    server: RunningServer, database_url: str, username: str
) -> None:
    async with server.http().post(
        "/api/v1/auth/login", json={"username": username, "password": "wrong-password"}
    ) as response:
        assert response.status == 401
    [row] = await audit_rows(database_url, action="auth.login_failed")
    assert (row["outcome"], row["actor_username"], row["actor_id"]) == ("denied", username, None)
    assert await audit_rows(database_url, action="auth.login") == []


async def test_a_sign_in_refused_with_429_is_recorded_as_denied(
    server: RunningServer, database_url: str, clock: ManualClock
) -> None:
    http = server.http()
    statuses = []
    for password in ["x1", "x2", "x3", "x4", "x5", "telemed-demo"]:
        async with http.post(
            "/api/v1/auth/login", json={"username": "gs.chutoa", "password": password}
        ) as response:
            statuses.append(response.status)
    assert statuses == [401] * 5 + [429]
    failed = await audit_rows(database_url, action="auth.login_failed", actor_username="gs.chutoa")
    assert [row["outcome"] for row in failed] == ["denied"] * 6
    assert await audit_rows(database_url, action="auth.login") == []


async def test_a_sign_out_is_recorded_and_the_chain_stays_intact(
    server: RunningServer, database_url: str
) -> None:
    signed = await server.sign_in("ts.thuky")
    async with signed.http.post("/api/v1/auth/logout", headers=signed.bearer) as response:
        assert response.status == 200
    [row] = await audit_rows(database_url, action="auth.logout")
    assert (row["actor_username"], row["outcome"]) == ("ts.thuky", "success")
    result = await verify(database_url)
    assert result.ok, result.reason


async def test_no_password_or_token_ever_reaches_the_audit_trail(
    server: RunningServer, database_url: str
) -> None:
    signed = await server.sign_in("kiemtra")
    async with server.http().post(
        "/api/v1/auth/login", json={"username": "kiemtra", "password": "secret-typo-123"}
    ) as response:
        assert response.status == 401
    async with signed.http.post("/api/v1/auth/logout", headers=signed.bearer):
        pass
    text = repr(await audit_rows(database_url))
    for secret in ("telemed-demo", "secret-typo-123", signed.token, signed.csrf_token):
        assert secret not in text
