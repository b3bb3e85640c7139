"""The chain stays one straight line however many requests append at once, from one
server or from two server processes sharing a PostgreSQL database."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from telemed.accounts.demo import DEMO_PASSWORD
from tests.support.audit import audit_rows, verify
from tests.support.cases import create_case
from tests.support.processes import ServerProcess
from tests.support.server import RunningServer


async def _assert_one_straight_chain(url: str) -> list[dict[str, object]]:
    rows = await audit_rows(url)
    assert [row["seq"] for row in rows] == list(range(1, len(rows) + 1))
    result = await verify(url)
    assert (result.ok, result.rows) == (True, len(rows)), result.reason
    return rows


async def test_fifty_concurrent_note_posts_make_one_straight_chain(
    server: RunningServer, database_url: str
) -> None:
    doctor = await server.sign_in("bs.namcan")
    case_id = (await create_case(doctor))["id"]

    async def post(n: int) -> int:
        async with doctor.http.post(
            f"/api/v1/cases/{case_id}/notes", json={"body": f"note {n}"}, headers=doctor.bearer
        ) as response:
            return response.status

    assert await asyncio.gather(*(post(n) for n in range(50))) == [201] * 50
    rows = await _assert_one_straight_chain(database_url)
    assert sum(row["action"] == "note.create" for row in rows) == 50


@pytest.fixture
async def two_servers(database_url: str, tmp_path: Path) -> AsyncIterator[list[str]]:
    """Two ``telemed serve`` processes on one database (and one data directory)."""
    processes = [
        ServerProcess(
            database_url,
            tmp_path / "data",
            env={"TELEMED_LOG_LEVEL": "WARNING"},
            log_path=tmp_path / f"server-{n}.log",
        )
        for n in range(2)
    ]
    try:
        for process in processes:
            await process.start()
        yield [process.url for process in processes]
    finally:
        for process in processes:
            await process.stop()


@pytest.mark.slow
@pytest.mark.parametrize("backend", [pytest.param("postgres", marks=pytest.mark.postgres)])
async def test_two_server_processes_append_to_one_straight_chain(
    two_servers: list[str], database_url: str
) -> None:
    users = ["bs.namcan", "bs.uminh", "gs.chutoa", "ts.thuky", "gs.timmach", "kiemtra"]
    async with aiohttp.ClientSession() as http:
        # At most two sign-ins of one account in flight (the throttle holds five, and
        # waits at most 5 s for one to finish: on a loaded machine that bound, not the
        # chain, would be what a larger burst tests).
        in_flight = asyncio.Semaphore(2 * len(users))

        async def login(n: int) -> int:
            base = two_servers[n % 2]
            body = {"username": users[n % len(users)], "password": DEMO_PASSWORD}
            async with in_flight, http.post(f"{base}/api/v1/auth/login", json=body) as response:
                return response.status

        assert await asyncio.gather(*(login(n) for n in range(40))) == [200] * 40
    rows = await _assert_one_straight_chain(database_url)
    assert sum(row["action"] == "auth.login" for row in rows) == 40
