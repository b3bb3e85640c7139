"""Nothing lost: every acknowledged note survives ``kill -9`` of the server, exactly once."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import socketio

from tests.support.audit import audit_rows, verify
from tests.support.cases import NEW_CASE
from tests.support.participants import Participant, sign_in
from tests.support.processes import ServerProcess, telemed_command

KILL_AFTER = 15


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def _started(tmp_path: Path) -> ServerProcess:
    """A migrated SQLite database with the demo accounts, and a server process on it."""
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'telemed.db'}"
    await telemed_command("db", "upgrade", "--database-url", database_url)
    await telemed_command("demo", "--accounts-only", "--database-url", database_url)
    server = ServerProcess(database_url, tmp_path / "data", {"TELEMED_SOCKET_BURST": "1000"})
    await server.start()
    return server


async def _new_case(http: aiohttp.ClientSession, server: ServerProcess, doctor: str) -> int:
    async with http.post(
        f"{server.url}/api/v1/cases", json=NEW_CASE, headers={"Authorization": f"Bearer {doctor}"}
    ) as response:
        assert response.status == 201
        case_id: int = (await response.json())["id"]
        return case_id


async def _participant(http: aiohttp.ClientSession, url: str, token: str) -> Participant:
    who = Participant("gs.chutoa", token, url, socketio.AsyncClient(reconnection=False))
    who.listen()
    await who.connect()
    return who


async def test_every_acknowledged_note_survives_kill_9_exactly_once(
    tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    server = await _started(tmp_path)
    try:
        doctor = await sign_in(http, server.url, "bs.namcan")
        case_id = await _new_case(http, server, doctor)
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


STREAMS = 8
CASES = 4
KILL_AFTER_BATCHED = 120


def _batched_units(metrics: str) -> tuple[float, float]:
    """(units, batches) committed so far, from the group-commit histogram of /metrics."""
    values = {
        line.split()[0]: float(line.split()[1])
        for line in metrics.splitlines()
        if line.startswith("telemed_commit_batch_units_")
    }
    return values["telemed_commit_batch_units_sum"], values["telemed_commit_batch_units_count"]


@pytest.mark.slow
async def test_a_kill_9_among_batched_notes_keeps_every_acked_one_and_half_stores_none(
    tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    """Eight sockets post notes at once into four cases, so notes share transactions (group
    commit); the process dies while they do. Every acknowledged note is stored once at its
    seq; every stored note has its audit row and no audit row lacks its note; each case's
    seqs have no gap; the chain verifies."""
    server = await _started(tmp_path)
    try:
        doctor = await sign_in(http, server.url, "bs.namcan")
        case_ids: list[int] = []
        for _ in range(CASES):
            case_ids.append(await _new_case(http, server, doctor))
        token = await sign_in(http, server.url, "gs.chutoa")
        writers = [await _participant(http, server.url, token) for _ in range(STREAMS)]
        acked: dict[str, tuple[int, int]] = {}  # client id -> (case, seq)
        enough = asyncio.Event()

        async def stream(k: int, who: Participant) -> None:
            case_id = case_ids[k % CASES]
            for n in range(10_000):
                client_id = f"batch-{k}-{n}"
                ack = await who.note(case_id, f"Ghi chú {client_id}", client_id)
                assert ack["ok"] is True, ack
                acked[client_id] = (case_id, ack["seq"])
                if len(acked) >= KILL_AFTER_BATCHED:
                    enough.set()

        streams = [asyncio.create_task(stream(k, who)) for k, who in enumerate(writers)]
        await asyncio.wait_for(enough.wait(), 120)
        async with http.get(f"{server.url}/metrics") as response:
            units, batches = _batched_units(await response.text())
        await server.kill()  # the streams go on: notes are in flight, batches open
        for task in streams:
            with contextlib.suppress(Exception):
                await task
        for who in writers:
            with contextlib.suppress(Exception):
                await who.close()
        # The kill came while notes shared transactions, not one commit per note.
        assert units > batches, (units, batches)

        await server.start()
        reader = await _participant(http, server.url, token)
        stored: dict[str, tuple[int, int]] = {}
        note_ids: list[int] = []
        for case_id in case_ids:
            replay = await reader.join(case_id)
            seqs = [e["seq"] for e in replay["events"]]
            assert seqs == list(range(1, replay["last_seq"] + 1)), case_id
            for event in replay["events"]:
                if event["type"] == "note.created":
                    note = event["data"]["note"]
                    client_id = note["body"].removeprefix("Ghi chú ")
                    assert client_id not in stored, f"{client_id} stored twice"
                    stored[client_id] = (case_id, event["seq"])
                    note_ids.append(int(note["id"]))
        await reader.close()
    finally:
        await server.stop()
    for client_id, place in acked.items():
        assert stored.get(client_id) == place, client_id
    rows = await audit_rows(server.database_url, action="note.create", outcome="success")
    assert sorted(int(row["object_id"]) for row in rows) == sorted(note_ids)
    assert (await verify(server.database_url)).ok
