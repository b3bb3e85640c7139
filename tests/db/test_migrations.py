"""Migrations build the schema the models describe, on SQLite and PostgreSQL, and the
server refuses an unmigrated database."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, text

from telemed.app import create_app
from telemed.db.engine import create_engine
from telemed.db.migrations import (
    DatabaseNotMigrated,
    current_revision,
    ensure_migrated,
    head_revision,
    upgrade,
)
from telemed.models import is_unmapped, metadata
from telemed.settings import Settings


async def test_upgrade_reaches_head_and_matches_the_models(empty_database_url: str) -> None:
    engine = create_engine(empty_database_url)
    try:
        assert await current_revision(engine) is None
        await upgrade(engine)
        assert await current_revision(engine) == head_revision()
        await upgrade(engine)  # a second run is a no-op
        await ensure_migrated(engine)

        def diff(connection: Connection) -> list[object]:
            # The search index is shaped per backend and described by no model.
            context = MigrationContext.configure(
                connection,
                opts={
                    "include_name": lambda name, kind, _: kind != "table" or not is_unmapped(name)
                },
            )
            return list(compare_metadata(context, metadata))

        async with engine.connect() as connection:
            assert await connection.run_sync(diff) == []
    finally:
        await engine.dispose()


async def test_ensure_migrated_names_the_fix(empty_database_url: str) -> None:
    engine = create_engine(empty_database_url)
    try:
        with pytest.raises(DatabaseNotMigrated, match="telemed db upgrade"):
            await ensure_migrated(engine)
    finally:
        await engine.dispose()


async def test_app_refuses_to_start_on_unmigrated_database(
    empty_database_url: str, tmp_path: Path
) -> None:
    app = create_app(Settings(database_url=empty_database_url, data_dir=tmp_path))
    server = TestServer(app, port=0)
    with pytest.raises(DatabaseNotMigrated):
        await server.start_server()
    await server.close()


def test_sqlite_runs_with_wal_full_sync_and_foreign_keys(tmp_path: Path) -> None:
    async def pragmas() -> tuple[str, int, int]:
        engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'p.db'}")
        try:
            async with engine.connect() as connection:
                journal = (await connection.execute(text("PRAGMA journal_mode"))).scalar_one()
                sync = (await connection.execute(text("PRAGMA synchronous"))).scalar_one()
                fks = (await connection.execute(text("PRAGMA foreign_keys"))).scalar_one()
                return journal, sync, fks
        finally:
            await engine.dispose()

    assert asyncio.run(pragmas()) == ("wal", 2, 1)


def test_cli_serve_on_unmigrated_database_exits_with_a_clear_message(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "telemed", "serve", "--port", "0", "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "TELEMED_LOG_JSON": "false"},
        check=False,
    )
    assert result.returncode == 2
    assert "Run `telemed db upgrade` first." in result.stderr
    assert "Traceback" not in result.stderr


def test_database_errors_never_carry_statement_parameters(tmp_path: Path) -> None:
    async def failing_insert() -> str:
        engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'h.db'}")
        try:
            async with engine.begin() as connection:
                await connection.execute(text("CREATE TABLE t (x TEXT NOT NULL UNIQUE)"))
                await connection.execute(text("INSERT INTO t VALUES (:x)"), {"x": "secret-note"})
                await connection.execute(text("INSERT INTO t VALUES (:x)"), {"x": "secret-note"})
        except Exception as error:  # the IntegrityError as it would be logged
            return str(error)
        finally:
            await engine.dispose()
        return ""

    message = asyncio.run(failing_insert())
    assert "UNIQUE constraint failed" in message
    assert "secret-note" not in message
