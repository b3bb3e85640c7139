"""The database refuses to change or remove audit rows, and Telemed never tries to."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

import telemed
from telemed.db.engine import create_engine
from telemed.db.migrations import alembic_config, upgrade

REFUSED = [
    "UPDATE audit_log SET action = 'case.read' WHERE seq = 1",
    "UPDATE audit_log SET seq = seq + 1000",
    "DELETE FROM audit_log WHERE seq = 1",
    "DELETE FROM audit_log",
]


async def _refused(url: str, statement: str) -> str:
    engine = create_engine(url)
    try:
        with pytest.raises(DBAPIError) as refused:
            async with engine.begin() as connection:
                await connection.execute(text(statement))
        return str(refused.value)
    finally:
        await engine.dispose()


@pytest.mark.parametrize("statement", REFUSED)
async def test_the_database_refuses_to_update_or_delete_audit_rows(
    database_url: str, statement: str
) -> None:
    assert "audit_log is append-only" in await _refused(database_url, statement)


@pytest.mark.postgres
@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
async def test_postgres_refuses_truncate(database_url: str) -> None:
    assert "audit_log is append-only: TRUNCATE" in await _refused(
        database_url, "TRUNCATE audit_log"
    )


async def test_downgrade_removes_the_triggers_and_upgrade_brings_them_back(
    database_url: str,
) -> None:
    engine = create_engine(database_url)

    def downgrade(connection: Connection) -> None:
        config = alembic_config(engine.url.render_as_string(hide_password=False))
        config.attributes["connection"] = connection
        command.downgrade(config, "0002")

    try:
        async with engine.begin() as connection:
            await connection.run_sync(downgrade)
        async with engine.begin() as connection:
            await connection.execute(text("UPDATE audit_log SET address = 'x' WHERE seq = 1"))
        await upgrade(engine)
    finally:
        await engine.dispose()
    assert "append-only" in await _refused(database_url, "DELETE FROM audit_log WHERE seq = 1")


# Any statement that would change or remove audit rows, in SQL or SQLAlchemy form.
FORBIDDEN = re.compile(
    r"(?:\bupdate|\bdelete)\s*\(\s*(?:AuditRecord|audit_log|AUDIT)\b"
    r"|\bUPDATE\s+\"?audit_log\b"
    r"|\bDELETE\s+FROM\s+\"?audit_log\b"
    r"|\bTRUNCATE\s+(?:TABLE\s+)?\"?audit_log\b"
    r"|AuditRecord\.__table__\.(?:update|delete)\b"
    r"|\.delete\(\s*(?:record|audit_record|entry)\s*\)",
    re.IGNORECASE,
)


def test_nothing_in_telemed_updates_or_deletes_audit_rows() -> None:
    package = Path(telemed.__file__).parent
    offenders = [
        f"{path.relative_to(package)}:{number}: {line.strip()}"
        for path in sorted(package.rglob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if FORBIDDEN.search(line)
    ]
    assert offenders == []


@pytest.mark.parametrize(
    "line",
    [
        "await db.execute(update(AuditRecord).values(action='x'))",
        'await db.execute(text("DELETE FROM audit_log WHERE seq = 3"))',
        "TRUNCATE TABLE audit_log",
        "AuditRecord.__table__.delete()",
    ],
)
def test_the_source_check_would_catch_a_tampering_statement(line: str) -> None:
    assert FORBIDDEN.search(line)
