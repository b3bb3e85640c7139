"""Shared set-up for benchmarks: a fresh database and a real server on a loopback port."""

from __future__ import annotations

import secrets
import statistics
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from aiohttp import web
from sqlalchemy import text
from sqlalchemy.engine import make_url

from telemed.accounts.demo import DEMO_PASSWORD
from telemed.app import create_app
from telemed.db.engine import create_engine
from telemed.settings import Settings
from tests.support.databases import migrate_and_seed

POSTGRES_ADMIN_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


@asynccontextmanager
async def fresh_database(backend: str) -> AsyncIterator[str]:
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
            await migrate_and_seed(url)
            yield url
        return
    name = f"telemed_bench_{secrets.token_hex(4)}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    try:
        await migrate_and_seed(url)
        yield url
    finally:
        async with admin.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


@dataclass
class Served:
    app: web.Application
    url: str


@asynccontextmanager
async def listening(app: web.Application) -> AsyncIterator[str]:
    """``app`` served on a free loopback port; its URL."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


@asynccontextmanager
async def serve(database_url: str) -> AsyncIterator[Served]:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(database_url=database_url, data_dir=Path(tmp), log_level="WARNING")
        app = create_app(settings)
        async with listening(app) as url:
            yield Served(app, url)


async def sign_in(http: aiohttp.ClientSession, username: str) -> dict[str, str]:
    async with http.post(
        "/api/v1/auth/login", json={"username": username, "password": DEMO_PASSWORD}
    ) as response:
        body = await response.json()
    return {"Authorization": f"Bearer {body['token']}"}


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def summary_ms(values: list[float]) -> str:
    return (
        f"p50 {statistics.median(values) * 1000:.1f} ms, "
        f"p90 {percentile(values, 0.9) * 1000:.1f} ms, n={len(values)}"
    )
