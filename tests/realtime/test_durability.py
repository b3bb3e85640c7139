"""Nothing lost: every acknowledged note survives ``kill -9`` of the server, exactly once."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import socketio

from tests.support.cases import NEW_CASE
from tests.support.participants import Participant, sign_in
from tests.support.processes import ServerProcess, telemed_command

KILL_AFTER = 15


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def _participant(http: aiohttp.ClientSession, url: str, token: str) -> Participant:
    who = Participant("gs.chutoa", token, url, socketio.AsyncClient(reconnection=False))
    who.listen()
    await who.connect()
    return who


async def test_every_acknowledged_note_survives_kill_9_exactly_once(
    tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'telemed.db'}"
    await telemed_command("db", "upgrade", "--database-url", database_url)
    await telemed_command("demo", "--accounts-only", "--database-url", database_url)
    server = ServerProcess(database_url, tmp_path / "data", {"TELEMED_SOCKET_BURST": "1000"})
    await server.start()
    try:
        doctor = await sign_in(http, server.url, "bs.namcan")
        async with http.post(
            f"{server.url}/api/v1/cases",
            json=NEW_CASE,
            headers={"Authorization": f"Bearer {doctor}"},
        ) as response:
            assert response.status == 201
            case_id = (await response.json())["id"]
        token = await sign_in(http, server.url, "gs.chutoa")
        chair = await _participant(http, server.url, token)

        acked: dict[str, int] = {}
        sent: list[str] = []

        async def stream() -> None:
            for n in range(10_000):
                client_id = f"kill9-{n}"
                sent.append(client_id)
                ack = await chair.note(case_id, f"Ghi chú {client_id}", client_id)
                assert ack["ok"] is True, ack
                acked[client_id] = ack["seq"]
                if len(acked) == KILL_AFTER:
                    enough.set()

        enough = asyncio.Event()
        streaming = asyncio.create_task(stream())
        await asyncio.wait_for(enough.wait(), 60)
        # The stream goes on: a note is in flight when the process dies.
        await server.kill()
        with contextlib.suppress(Exception):
            await streaming
        with contextlib.suppress(Exception):
            await chair.close()
        assert len(acked) >= KILL_AFTER

        await server.start()
        chair = await _participant(http, server.url, token)
        ack = await chair.join(case_id)
        assert ack["ok"] is True
        bodies = [e["data"]["note"]["body"] for e in ack["events"] if e["type"] == "note.created"]
        for client_id, seq in acked.items():
            assert bodies.count(f"Ghi chú {client_id}") == 1, client_id
            stored = next(e for e in ack["events"] if e["seq"] == seq)
            assert stored["data"]["note"]["body"] == f"Ghi chú {client_id}"
        assert [e["seq"] for e in ack["events"]] == list(range(1, ack["last_seq"] + 1))

        # The client retries what it never saw acknowledged: each note ends up stored once.
        for client_id in sent:
            retry = await chair.note(case_id, f"Ghi chú {client_id}", client_id)
            assert retry["ok"] is True
            if client_id in acked:
                assert retry["seq"] == acked[client_id]
        replay = await chair.join(case_id)
        bodies = [
            e["data"]["note"]["body"] for e in replay["events"] if e["type"] == "note.created"
        ]
        assert sorted(bodies) == sorted(f"Ghi chú {c}" for c in sent)
        await chair.close()
    finally:
        await server.stop()
