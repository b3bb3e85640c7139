"""Deferred rows (telemed/db/deferred.py): a batch's events and audit rows go to the
database together, yet every statement of the batch reads them as if each had been
written at once, and a unit that rolls back takes its own back. Real server, real
database (SQLite and PostgreSQL)."""

from __future__ import annotations

from sqlalchemy import func, select, text

from telemed import appkeys
from telemed.audit.models import AuditRecord
from telemed.audit.work import AuditedWork
from telemed.cases.repository import CaseRepository
from telemed.cases.schemas import NewNote
from tests.support.api import call
from tests.support.audit import audit_rows, verify
from tests.support.batches import Unit, actor_of, all_in_one_batch
from tests.support.cases import create_case
from tests.support.server import RunningServer


async def test_a_unit_reads_the_rows_its_batch_deferred_before_it(
    server: RunningServer,
) -> None:
    work: AuditedWork = server.app[appkeys.AUDITED_WORK]
    doctor = await server.sign_in("bs.namcan")
    author = await actor_of(server, "bs.namcan")
    case_id = (await create_case(doctor))["id"]
    cases = server.app[appkeys.CASE_SERVICE]
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
    work: AuditedWork = server.app[appkeys.AUDITED_WORK]
    doctor = await server.sign_in("bs.namcan")
    author = await actor_of(server, "bs.namcan")
    case_id = (await create_case(doctor))["id"]
    cases = server.app[appkeys.CASE_SERVICE]
    log = server.app[appkeys.CASE_LOG]

    async def reads_then_fails() -> None:
        async with log.change(author, "test.reads_then_fails", case_id) as change:
            await change.append("test.gone", {})
            await change.unit.db.execute(select(func.count()).select_from(AuditRecord))
            raise RuntimeError("fails after its read")

    units: list[Unit] = [
        lambda: cases.add_note(author, case_id, NewNote(body="before")),
        reads_then_fails,
        lambda: cases.add_note(author, case_id, NewNote(body="after")),
    ]
    results = await all_in_one_batch(work.batches, units)

    assert isinstance(results[1], RuntimeError), results[1]
    events = (await call(doctor, "GET", f"/api/v1/cases/{case_id}/events"))["events"]
    assert [(e["seq"], e["type"]) for e in events] == [
        (1, "case.created"),
        (2, "note.created"),
        (3, "note.created"),
    ]
    mine = {"note.create", "test.reads_then_fails"}
    rows = [row for row in await audit_rows(database_url) if row["action"] in mine]
    assert [(row["action"], row["outcome"]) for row in rows] == [
        ("note.create", "success"),
        ("test.reads_then_fails", "error"),
        ("note.create", "success"),
    ]
    result = await verify(database_url)
    assert result.ok, result.reason
