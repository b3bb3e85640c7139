"""The chain stays one straight line however many requests append at once, from one
server or from two server processes sharing a PostgreSQL database."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from telemed.accounts.demo import DEMO_PASSWORD
from tests.support.audit import audit_rows, verify
from tests.support.cases import create_case
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


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def two_servers(database_url: str, tmp_path: Path) -> Iterator[list[str]]:
    """Two ``telemed serve`` processes on one database (and one data directory)."""
    ports = [_free_port(), _free_port()]
    env = {
        **os.environ,
        "TELEMED_DATABASE_URL": database_url,
        "TELEMED_DATA_DIR": str(tmp_path / "data"),
        "TELEMED_LOG_JSON": "false",
        "TELEMED_LOG_LEVEL": "WARNING",
    }
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "telemed", "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for port in ports
    ]
    try:
        yield [f"http://127.0.0.1:{port}" for port in ports]
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            if process.stderr:
                process.stderr.close()


async def _wait_until_up(http: aiohttp.ClientSession, base: str) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            async with http.get(f"{base}/healthz") as response:
                if response.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"{base} did not start")
        await asyncio.sleep(0.2)  # polling a starting process, not waiting for expiry


@pytest.mark.slow
@pytest.mark.parametrize("backend", [pytest.param("postgres", marks=pytest.mark.postgres)])
async def test_two_server_processes_append_to_one_straight_chain(
    two_servers: list[str], database_url: str
) -> None:
    users = ["bs.namcan", "bs.uminh", "gs.chutoa", "ts.thuky", "gs.timmach", "kiemtra"]
    async with aiohttp.ClientSession() as http:
        for base in two_servers:
            await _wait_until_up(http, base)

        async def login(n: int) -> int:
            base = two_servers[n % 2]
            body = {"username": users[n % len(users)], "password": DEMO_PASSWORD}
            async with http.post(f"{base}/api/v1/auth/login", json=body) as response:
                return response.status

        assert await asyncio.gather(*(login(n) for n in range(40))) == [200] * 40
    rows = await _assert_one_straight_chain(database_url)
    assert sum(row["action"] == "auth.login" for row in rows) == 40
