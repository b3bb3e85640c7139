"""Deferred rows (telemed/db/deferred.py): a batch's events and audit rows go to the
database together, yet every statement of the batch reads them as if each had been
written at once, and a unit that rolls back takes its own back. Real server, real
database (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from telemed import appkeys
from telemed.audit.models import AuditRecord
from telemed.cases.models import CaseEvent
from telemed.cases.repository import CaseRepository
from telemed.cases.schemas import NewNote
from telemed.db.base import table
from telemed.db.deferred import defer
from tests.support.api import call
from tests.support.audit import audit_rows, verified_outcomes, verify
from tests.support.batches import Unit, all_in_one_batch, batched_case, between_notes
from tests.support.server import RunningServer


async def test_a_unit_reads_the_rows_its_batch_deferred_before_it(
    server: RunningServer,
) -> None:
    batched = await batched_case(server)
    work, _doctor, author, case_id, cases = batched
    seen: dict[str, object] = {}

    async def reader() -> None:
        async with work(author, "test.reader", case_id=case_id) as unit:
            repo = CaseRepository(unit.db)
            seen["events"] = [seq for seq, _body in await repo.events_after(case_id, 0, 100)]
            seen["last_audit_action"] = (
                await unit.db.execute(
                    select(AuditRecord.action).order_by(AuditRecord.seq.desc()).limit(1)
                )
            ).scalar_one()
            seen["events_by_sql"] = (
                await unit.db.execute(
                    text("SELECT count(*) FROM case_events WHERE case_id = :id"), {"id": case_id}
                )
            ).scalar_one()

    units: list[Unit] = [
        lambda: cases.add_note(author, case_id, NewNote(body="one")),
        lambda: cases.add_note(author, case_id, NewNote(body="two")),
        reader,
    ]
    results = await all_in_one_batch(work.batches, units)

    assert not any(isinstance(result, BaseException) for result in results), results
    # case.created, then the two notes: all three read inside the batch that wrote them.
    assert seen == {"events": [1, 2, 3], "last_audit_action": "note.create", "events_by_sql": 3}


async def test_rows_written_early_for_a_reader_that_then_fails_are_written_again(
    server: RunningServer, database_url: str
) -> None:
    """A unit that reads (so its batch's deferred rows go to the database inside its
    savepoint) and then fails rolls those rows back with its own: the batch writes its
    neighbours' rows again at its commit, and nothing of the failed unit."""
    batched = await batched_case(server)
    work, doctor, author, case_id, _cases = batched
    log = server.app[appkeys.CASE_LOG]

    async def reads_then_fails() -> None:
        async with log.change(author, "test.reads_then_fails", case_id) as change:
            await change.append("test.gone", {})
            await change.unit.db.execute(select(func.count()).select_from(AuditRecord))
            raise RuntimeError("fails after its read")

    units = between_notes(batched, reads_then_fails)
    results = await all_in_one_batch(work.batches, units)

    assert isinstance(results[1], RuntimeError), results[1]
    events = (await call(doctor, "GET", f"/api/v1/cases/{case_id}/events"))["events"]
    assert [(e["seq"], e["type"]) for e in events] == [
        (1, "case.created"),
        (2, "note.created"),
        (3, "note.created"),
    ]
    assert await verified_outcomes(database_url, {"note.create", "test.reads_then_fails"}) == [
        ("note.create", "success"),
        ("test.reads_then_fails", "error"),
        ("note.create", "success"),
    ]


async def test_a_deferred_row_the_database_refuses_fails_the_whole_batch(
    server: RunningServer, database_url: str
) -> None:
    """Deferred rows are written for the batch as a whole, so one the database refuses
    (a bug: the application builds them whole) fails every unit of its batch. None is told
    its work was stored, and none of it is."""
    batched = await batched_case(server)
    work, doctor, author, case_id, _cases = batched
    before = len(await audit_rows(database_url))

    async def defers_a_broken_row() -> None:
        async with work(author, "test.broken_row", case_id=case_id) as unit:
            # A second seq 1 for the case (its case.created has it): refused at the commit.
            at = datetime.now(UTC)
            row = {"case_id": case_id, "seq": 1, "type": "test.again", "actor_id": None}
            defer(unit.db, table(CaseEvent), {**row, "at": at, "data": {}, "body": "{}"})

    units = between_notes(batched, defers_a_broken_row)
    results = await all_in_one_batch(work.batches, units, committed=0)

    assert all(isinstance(result, IntegrityError) for result in results), results
    events = (await call(doctor, "GET", f"/api/v1/cases/{case_id}/events"))["events"]
    assert [e["type"] for e in events] == ["case.created"]
    # Only the events read just now added its row.
    assert len(await audit_rows(database_url)) == before + 1
    result = await verify(database_url)
    assert result.ok, result.reason
