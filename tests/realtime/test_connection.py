"""Socket.IO connections need a valid session and the server's own (or an allowed) Origin."""

from __future__ import annotations

from collections.abc import Callable

import socketio

from telemed.clock import ManualClock
from telemed.settings import Settings
from tests.support.server import RunningServer


async def _connect(server: RunningServer, **kwargs: object) -> socketio.AsyncClient:
    client = server.socket()
    await client.connect(server.url, transports=["websocket"], wait_timeout=5, **kwargs)
    return client


async def test_connect_with_token_in_auth(server: RunningServer) -> None:
    signed = await server.sign_in("bs.namcan")
    client = await _connect(server, auth={"token": signed.token})
    try:
        assert client.connected
    finally:
        await client.disconnect()


async def test_connect_with_session_cookie_from_own_origin(server: RunningServer) -> None:
    signed = await server.sign_in("bs.namcan")
    client = await _connect(
        server,
        headers={"Cookie": f"telemed_session={signed.token}", "Origin": server.url},
    )
    try:
        assert client.connected
    finally:
        await client.disconnect()


async def _refusal(server: RunningServer, **kwargs: object) -> object:
    """Try to connect; returns what the server said when refusing (None if it said nothing)."""
    client = server.socket()
    said: list[object] = []

    @client.event  # type: ignore[untyped-decorator]
    async def connect_error(data: object) -> None:
        said.append(data)

    try:
        await client.connect(server.url, transports=["websocket"], wait_timeout=5, **kwargs)
    except socketio.exceptions.ConnectionError:
        return said[0] if said else None
    await client.disconnect()
    raise AssertionError("the connection was accepted")


async def test_connect_without_credentials_is_refused(server: RunningServer) -> None:
    said = await _refusal(server)
    assert said == {"message": "Sign in to continue.", "data": {"code": "authentication_required"}}


async def test_connect_with_forged_token_is_refused(server: RunningServer) -> None:
    said = await _refusal(server, auth={"token": "forged"})
    assert isinstance(said, dict)
    assert said["data"] == {"code": "authentication_required"}


async def test_connect_after_logout_is_refused(server: RunningServer) -> None:
    signed = await server.sign_in("bs.namcan")
    async with server.http().post("/api/v1/auth/logout", headers=signed.bearer) as response:
        assert response.status == 200
    said = await _refusal(server, auth={"token": signed.token})
    assert isinstance(said, dict)
    assert said["data"] == {"code": "authentication_required"}


async def test_connect_from_foreign_origin_is_refused(server: RunningServer) -> None:
    signed = await server.sign_in("bs.namcan")
    # Refused by the transport (HTTP 400) before the namespace sees the valid token.
    said = await _refusal(
        server, auth={"token": signed.token}, headers={"Origin": "https://evil.example"}
    )
    assert said == "Connection error"


async def test_connect_from_allowlisted_origin(
    make_settings: Callable[..., Settings], clock: ManualClock
) -> None:
    server = RunningServer(make_settings(allowed_origins="https://portal.example"), clock)
    await server.start()
    try:
        signed = await server.sign_in("bs.namcan")
        client = await _connect(
            server, auth={"token": signed.token}, headers={"Origin": "https://portal.example"}
        )
        assert client.connected
        await client.disconnect()
    finally:
        await server.close()
