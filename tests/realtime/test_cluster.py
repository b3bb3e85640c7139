"""More than one server: two processes sharing PostgreSQL and Redis act as one."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiohttp
import pytest
import socketio

from tests.support.cases import NEW_CASE
from tests.support.databases import PostgresTemplate
from tests.support.participants import Participant, sign_in
from tests.support.processes import ServerProcess
from tests.support.services import require_redis


@pytest.fixture
async def postgres_url(
    postgres_template: Callable[[], PostgresTemplate],
) -> AsyncIterator[str]:
    template = postgres_template()
    url = await template.clone()
    try:
        yield url
    finally:
        await template.drop(url)


@pytest.fixture
async def cluster(postgres_url: str, tmp_path: Path) -> AsyncIterator[list[ServerProcess]]:
    redis_url = require_redis()
    env = {
        "TELEMED_REDIS_URL": redis_url,
        # Pub/sub channels are not scoped by database number: a prefix of this test's own.
        "TELEMED_REDIS_PREFIX": f"test-{secrets.token_hex(6)}",
    }
    servers = [ServerProcess(postgres_url, tmp_path / name, env) for name in ("a", "b")]
    try:
        for server in servers:
            await server.start()
        yield servers
    finally:
        for server in servers:
            await server.stop()


async def _participant(
    http: aiohttp.ClientSession, server: ServerProcess, username: str
) -> Participant:
    token = await sign_in(http, server.url, username)
    who = Participant(username, token, server.url, socketio.AsyncClient(reconnection=False))
    who.listen()
    await who.connect()
    return who


def _names(who: Participant) -> list[str]:
    return sorted(p["user"]["username"] for p in who.presence[-1]["peers"]) if who.presence else []


async def test_participants_on_two_processes_see_each_others_events_and_presence(
    cluster: list[ServerProcess],
) -> None:
    a, b = cluster
    async with aiohttp.ClientSession() as http:
        doctor_token = await sign_in(http, a.url, "bs.namcan")
        async with http.post(
            f"{a.url}/api/v1/cases",
            json=NEW_CASE,
            headers={"Authorization": f"Bearer {doctor_token}"},
        ) as response:
            assert response.status == 201
            case_id = (await response.json())["id"]

        chair = await _participant(http, a, "gs.chutoa")
        member = await _participant(http, b, "gs.timmach")
        doctor = await _participant(http, b, "bs.namcan")
        try:
            assert (await chair.join(case_id))["ok"] is True
            joined = await member.join(case_id)
            # Presence is shared: the member on B sees the chair who joined on A, and back.
            assert sorted(p["user"]["username"] for p in joined["peers"]) == [
                "gs.chutoa",
                "gs.timmach",
            ]
            await chair.until(lambda: _names(chair) == ["gs.chutoa", "gs.timmach"])

            for n in range(5):
                assert (await chair.note(case_id, f"A{n}"))["ok"] is True
                assert (await member.note(case_id, f"B{n}"))["ok"] is True
            expected = list(range(1, 12))
            for who in (chair, member):
                await who.until_events(case_id, 11)
                assert who.seqs(case_id) == expected
            assert [e["data"]["note"]["body"] for e in member.log[1:]] == [
                body for n in range(5) for body in (f"A{n}", f"B{n}")
            ]

            # A triage answer given on A reaches the requesting doctor connected to B.
            async with http.post(
                f"{a.url}/api/v1/cases/{case_id}/transitions",
                json={"action": "accept"},
                headers={"Authorization": f"Bearer {chair.token}"},
            ) as response:
                assert response.status == 200
            await doctor.until(lambda: [n["kind"] for n in doctor.notices] == ["case.accepted"])

            # Dropping off on B is seen on A.
            await member.close()
            await chair.until(lambda: _names(chair) == ["gs.chutoa"])
        finally:
            for who in (chair, member, doctor):
                await who.close()
