"""The audit row commits with the change or neither is stored."""

from __future__ import annotations

from typing import Any, NoReturn

import pytest
from sqlalchemy import func, select

from telemed import appkeys
from telemed.cases.models import Case, Note
from telemed.db.engine import create_engine, create_sessionmaker
from tests.support.api import call
from tests.support.audit import audit_rows
from tests.support.cases import create_case
from tests.support.server import RunningServer


async def _stored(url: str, case_id: int) -> tuple[int, int]:
    """(notes of the case, the case's last event seq)."""
    engine = create_engine(url)
    try:
        async with create_sessionmaker(engine)() as db:
            notes = await db.scalar(
                select(func.count()).select_from(Note).where(Note.case_id == case_id)
            )
            last_seq = await db.scalar(select(Case.last_seq).where(Case.id == case_id))
            return int(notes or 0), int(last_seq or 0)
    finally:
        await engine.dispose()


async def test_a_note_whose_audit_row_cannot_be_written_is_not_stored(
    server: RunningServer, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    doctor = await server.sign_in("bs.namcan")
    case = await create_case(doctor)
    before = await _stored(database_url, case["id"])
    rows_before = await audit_rows(database_url)

    async def refuse(*_: Any, **__: Any) -> NoReturn:
        raise RuntimeError("the audit table is full")

    monkeypatch.setattr(server.app[appkeys.AUDIT_LOG], "record", refuse)
    body = await call(doctor, "POST", f"/api/v1/cases/{case['id']}/notes", {"body": "x"}, 500)
    monkeypatch.undo()

    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message"}
    assert body["error"]["code"] == "internal_error"
    assert before == (0, case["last_seq"])
    assert await _stored(database_url, case["id"]) == before
    assert await audit_rows(database_url) == rows_before
    # The same note goes through once the audit trail works again.
    await call(doctor, "POST", f"/api/v1/cases/{case['id']}/notes", {"body": "x"}, 201)
    assert await _stored(database_url, case["id"]) == (1, case["last_seq"] + 1)
