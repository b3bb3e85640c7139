"""The Socket.IO wire: binary packets, malformed frames and reserved event names are
refused at the transport, logged as one line each, counted, and end the connection."""

from __future__ import annotations

import contextlib
import json
import logging
import math
from collections.abc import Callable
from pathlib import Path

import aiohttp
import pytest

from telemed import appkeys
from telemed.clock import ManualClock
from telemed.settings import Settings
from tests.realtime.raw import RawSocket
from tests.support.audit import audit_rows
from tests.support.cases import create_case
from tests.support.participants import participant, sign_in
from tests.support.processes import ServerProcess, telemed_command
from tests.support.server import RunningServer

FRAME = 60 * 1024


def _rss(pid: int) -> int:
    """Resident memory of a process, in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


async def _metric(server: RunningServer, reason: str) -> float:
    async with server.http().get("/metrics") as response:
        text = await response.text()
    for line in text.splitlines():
        if line.startswith(f'telemed_socketio_refused_frames_total{{reason="{reason}"}}'):
            return float(line.split()[-1])
    return 0.0


def _no_traces(caplog: pytest.LogCaptureFixture) -> None:
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"
    assert "Traceback" not in caplog.text


async def test_attachments_announced_in_a_binary_packet_close_the_connection_before_any_buffering(
    tmp_path: Path,
) -> None:
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'telemed.db'}"
    await telemed_command("db", "upgrade", "--database-url", database_url)
    await telemed_command("demo", "--accounts-only", "--database-url", database_url)
    server = ServerProcess(database_url, tmp_path / "data")
    await server.start()
    try:
        async with aiohttp.ClientSession() as http:
            token = await sign_in(http, server.url, "gs.chutoa")
        raw = await RawSocket.connect(server.url, token)
        assert server.process is not None
        before = _rss(server.process.pid)
        # A BINARY_EVENT announcing 9,999,999,999 attachments, then 60 KB attachments:
        # python-socketio would hold every one of them until the count arrived.
        await raw.send('459999999999-["case:note",{"_placeholder":true,"num":0}]')
        sent = 0
        with contextlib.suppress(ConnectionError):
            for _ in range(1000):  # 60 MB
                await raw.send(bytes(FRAME))
                sent += 1
        assert await raw.closed()
        grown = _rss(server.process.pid) - before
        await raw.close()
        assert grown < 8 * 1024**2, f"RSS grew by {grown / 1024**2:.1f} MB after {sent} frames"
        assert "Traceback" not in server.log()
    finally:
        await server.stop()


async def test_a_raw_binary_frame_closes_the_connection(
    server: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    signed = await server.sign_in("gs.chutoa")
    raw = await RawSocket.connect(server.url, signed.token)
    try:
        await raw.send(b"\x04" + bytes(FRAME))
        assert await raw.closed()
    finally:
        await raw.close()
    assert await _metric(server, "binary") == 1
    _no_traces(caplog)


MALFORMED = [
    '["case:join",' + "[" * 5000 + "]" * 5000 + "]",  # nested beyond the parser
    '["case:join",{]',  # not JSON
    '["case:join",{"case_id":NaN}]',  # not RFC 8259
    '["case:join",{"case_id":1e400}]',  # a number out of range
    "{}",  # not an event
    "[]",  # no event name
    "[1]",  # an event name that is not a string
]


async def test_malformed_packets_get_one_warning_line_each_and_the_tenth_closes_the_connection(
    server: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    signed = await server.sign_in("gs.chutoa")
    raw = await RawSocket.connect(server.url, signed.token)
    caplog.set_level(logging.INFO)
    try:
        for packet in MALFORMED:
            ack = await raw.request(packet)
            assert ack["ok"] is False
            assert ack["error"]["code"] == "validation_error", ack
        # Without an ack id, an unknown packet type, a client CONNECT_ERROR: no answer.
        for frame in ("42", "47", "44{}"):
            await raw.send(frame)
        assert await raw.closed()
    finally:
        await raw.close()
    refusals = [r for r in caplog.records if r.getMessage().startswith("refused a Socket.IO")]
    assert len(refusals) == 10
    assert {r.levelno for r in refusals} == {logging.WARNING}
    _no_traces(caplog)
    assert await _metric(server, "malformed") == 10


async def test_frames_that_are_not_engine_io_close_the_connection_without_a_trace(
    server: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    signed = await server.sign_in("gs.chutoa")
    for garbage in ("x", "", "9", "3" + "[" * 5000):
        raw = await RawSocket.connect(server.url, signed.token)
        try:
            await raw.send(garbage)
            assert await raw.closed()
        finally:
            await raw.close()
    assert await _metric(server, "engine") == 4
    _no_traces(caplog)


async def test_a_malformed_long_polling_payload_is_one_warning_line(
    server: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    http = server.http()
    async with http.get("/socket.io/?EIO=4&transport=polling") as response:
        sid = json.loads((await response.text())[1:])["sid"]
    path = f"/socket.io/?EIO=4&transport=polling&sid={sid}"
    async with http.post(path, data="x") as response:
        assert response.status < 500
    assert await _metric(server, "engine") == 1
    _no_traces(caplog)


async def test_a_client_disconnect_event_does_not_detach_the_socket_from_its_session(
    server: RunningServer,
) -> None:
    chair = await participant(server, "gs.chutoa")
    ack = await chair.request("disconnect", {})
    assert ack["error"]["code"] == "unknown_event"
    assert chair.client.connected
    # Still known to the server: signing out closes it.
    assert chair.signed is not None
    async with chair.signed.http.post(
        "/api/v1/auth/logout", headers=chair.signed.bearer
    ) as response:
        assert response.status == 200
    await chair.until(lambda: not chair.client.connected)


async def test_a_client_connect_event_neither_resets_the_rate_limit_nor_the_address(
    make_settings: Callable[..., Settings], clock: ManualClock, database_url: str
) -> None:
    # Twenty messages in all, and no refill: the twenty-first is refused.
    server = RunningServer(make_settings(socket_rate_per_second=0.001, socket_burst=20), clock)
    await server.start()
    try:
        case_id = int((await create_case(await server.sign_in("bs.namcan")))["id"])
        signed = await server.sign_in("gs.chutoa")
        raw = await RawSocket.connect(server.url, signed.token)
        # What the lifecycle handler takes: an environ without the request, and auth.
        connect: tuple[str, object, object] = ("connect", {}, {"token": signed.token})
        assert (await raw.emit(*connect))["error"]["code"] == "unknown_event"
        assert (await raw.emit("case:join", {"case_id": case_id}))["ok"] is True
        for _ in range(17):
            assert (await raw.emit("case:leave", {"case_id": case_id}))["ok"] is True
        assert (await raw.emit(*connect))["error"]["code"] == "unknown_event"
        codes = [(await raw.emit("case:leave", {"case_id": case_id}))["error"]["code"]]
        assert codes == ["rate_limited"]
        await raw.close()
    finally:
        await server.close()
    [join] = await audit_rows(database_url, action="room.join")
    assert join["address"] == "127.0.0.1"


async def test_nothing_that_is_not_json_leaves_the_server(server: RunningServer) -> None:
    chair = await participant(server, "gs.chutoa")
    got: list[object] = []
    chair.client.on("probe", got.append)
    sio = server.app[appkeys.SOCKETIO]
    with pytest.raises(ValueError, match="JSON"):
        await sio.emit("probe", {"value": math.nan})
    await sio.emit("probe", {"value": 1})
    await chair.until(lambda: bool(got))
    assert got == [{"value": 1}]
    assert chair.client.connected
