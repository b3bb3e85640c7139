"""Migrations build the schema the models describe, on SQLite and PostgreSQL, and the
server refuses an unmigrated database."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, text

from telemed import appkeys
from telemed.app import create_app
from telemed.db.engine import create_engine
from telemed.db.migrations import (
    DatabaseNotMigrated,
    alembic_config,
    current_revision,
    ensure_migrated,
    head_revision,
    upgrade,
)
from telemed.models import is_unmapped, metadata
from telemed.settings import Settings
from tests.support.api import call
from tests.support.cases import create_case
from tests.support.server import RunningServer


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


async def test_events_stored_before_0014_get_the_json_text_the_application_writes(
    server: RunningServer, settings: Settings
) -> None:
    """0014 gives each existing event the text its room would have received: downgrading
    drops the text, upgrading again rebuilds it from the columns, equal to the written one."""
    doctor = await server.sign_in("bs.namcan")
    case_id = (await create_case(doctor))["id"]
    await call(doctor, "POST", f"/api/v1/cases/{case_id}/notes", {"body": "Troponin 2,3 µg/L"}, 201)
    deadlines, now = server.app[appkeys.DEADLINE_SERVICE], server.app[appkeys.CLOCK].now()
    assert await deadlines.tick(now + timedelta(hours=20)) == 1  # written by the system
    assert await deadlines.tick(now + timedelta(hours=30)) == 1
    engine = create_engine(settings.database_url)

    async def bodies() -> list[tuple[int, Any]]:
        async with engine.connect() as connection:
            rows = await connection.execute(text("SELECT seq, body FROM case_events ORDER BY id"))
            return [(seq, json.loads(body)) for seq, body in rows]

    def migrate(connection: Connection, downgrade_to: str) -> None:
        config = alembic_config(settings.database_url)
        config.attributes["connection"] = connection
        command.downgrade(config, downgrade_to)
        command.upgrade(config, "head")

    try:
        written = await bodies()
        assert [event["type"] for _, event in written][-3:] == [
            "note.created",
            "case.deadline_near",
            "case.deadline_passed",
        ]
        async with engine.begin() as connection:
            await connection.run_sync(migrate, "0013_board_pages")
        assert await bodies() == written
    finally:
        await engine.dispose()
