"""What an idle joined connection keeps: the structure behind issue 14's memory target.

No sizes here (bench/connection_memory.py measures them): the guarantees that make a
connection cheap, each of which a change could quietly undo.
"""

from __future__ import annotations

import asyncio
import types
from collections.abc import Iterator
from typing import Any

import aiohttp
from aiohttp import web

from telemed import appkeys
from telemed.accounts.demo import DEMO_PASSWORD
from telemed.accounts.principal import Actor
from telemed.realtime.connections import Connection
from telemed.realtime.presence import Peer
from telemed.realtime.wire import GuardedWebSocket
from tests.support.cases import requested_case
from tests.support.participants import Participant, participant
from tests.support.server import RunningServer

# The middlewares an upgraded websocket has no use for (telemed/http/long_lived.py).
INNER_MIDDLEWARES = {"forwarded_scheme", "_language_middleware", "error_middleware"}
INNER_MIDDLEWARES |= {"compress_static"}


def _connections(server: RunningServer, who: Participant) -> list[Connection]:
    return [c for c in server.app[appkeys.SOCKET_CONNECTIONS] if c.token == who.token]


async def _second_socket(server: RunningServer, who: Participant) -> Participant:
    """Another socket of ``who``'s session (a second tab)."""
    other = Participant(who.username, who.token, server.url, server.socket())
    other.listen()
    await other.connect()
    return other


async def test_every_socket_of_a_session_holds_the_same_principal(server: RunningServer) -> None:
    case_id = await requested_case(server)
    doctor = await participant(server, "bs.namcan")
    tab = await _second_socket(server, doctor)
    elsewhere = await participant(server, "bs.namcan")  # a second sign-in: its own session
    try:
        assert (await doctor.join(case_id))["ok"] is True
        assert (await tab.join(case_id))["ok"] is True
        assert (await elsewhere.join(case_id))["ok"] is True
        first, second = _connections(server, doctor)
        # Each join authenticated again; the session's principal is still the one object.
        assert first.principal is second.principal
        (other,) = _connections(server, elsewhere)
        assert other.principal is not first.principal
        assert other.principal.session_id != first.principal.session_id
    finally:
        for who in (doctor, tab, elsewhere):
            await who.close()


async def test_a_shared_principal_is_replaced_when_its_session_changes(
    server: RunningServer,
) -> None:
    doctor = await participant(server, "bs.namcan")
    try:
        (connection,) = _connections(server, doctor)
        held = connection.principal
        auth = server.app[appkeys.AUTH_SERVICE]
        assert await auth.authenticate(doctor.token) is held
        await auth.step_up(Actor(held, "127.0.0.1", "test-step-up"), DEMO_PASSWORD)
        fresh = await auth.authenticate(doctor.token)
        assert held.stepped_up_at is None
        assert fresh.stepped_up_at is not None
        # The next caller of the session shares the new principal, not the stale one.
        assert await auth.authenticate(doctor.token) is fresh
    finally:
        await doctor.close()


async def test_objects_kept_per_connection_have_no_instance_dict(server: RunningServer) -> None:
    case_id = await requested_case(server)
    doctor = await participant(server, "bs.namcan")
    try:
        assert (await doctor.join(case_id))["ok"] is True
        (connection,) = _connections(server, doctor)
        peer = Peer(connection.peer_id, {}, "requester", connection.sid, "process")
        for kept in (connection, connection.bucket, peer):
            assert not hasattr(kept, "__dict__"), type(kept).__name__
    finally:
        await doctor.close()


def _awaiting(coroutine: object) -> Iterator[types.CoroutineType[Any, Any, Any]]:
    """The coroutines ``coroutine`` is suspended in, outermost first."""
    while isinstance(coroutine, types.CoroutineType):
        yield coroutine
        coroutine = coroutine.cr_await


def _upgrade_chain() -> list[types.CoroutineType[Any, Any, Any]]:
    """The suspended call chain of the one request task serving an Engine.IO websocket."""
    chains = [list(_awaiting(task.get_coro())) for task in asyncio.all_tasks()]
    (chain,) = [c for c in chains if any(x.cr_code.co_name == "_upgrade_websocket" for x in c)]
    return chain


async def test_an_open_websocket_holds_no_frame_of_the_inner_middlewares(
    server: RunningServer,
) -> None:
    doctor = await participant(server, "bs.namcan")
    try:
        names = [coroutine.cr_code.co_name for coroutine in _upgrade_chain()]
        assert "request_middleware" in names, names
        assert not INNER_MIDDLEWARES & set(names), names
    finally:
        await doctor.close()


async def test_an_open_websocket_keeps_no_header_of_its_101(server: RunningServer) -> None:
    doctor = await participant(server, "bs.namcan")
    try:
        (ws,) = {
            kept
            for coroutine in _upgrade_chain()
            if coroutine.cr_frame is not None
            and isinstance(kept := coroutine.cr_frame.f_locals.get("self"), GuardedWebSocket)
        }
        response = ws._sock
        assert isinstance(response, web.WebSocketResponse)
        assert response.status == 101
        assert len(response.headers) == 0
    finally:
        await doctor.close()


async def test_the_upgrade_answer_still_has_the_security_headers(
    server: RunningServer,
) -> None:
    url = f"{server.url}/socket.io/?EIO=4&transport=websocket"
    async with aiohttp.ClientSession() as http, http.ws_connect(url) as ws:
        headers = ws._response.headers
        assert ws._response.status == 101
        assert "Server" not in headers
        assert headers["Content-Security-Policy"].startswith("default-src 'self'")
        assert headers["X-Content-Type-Options"] == "nosniff"
        await ws.close()
