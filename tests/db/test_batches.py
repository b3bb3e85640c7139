"""Group commit: units queued while a write transaction is open share it, each answered
after that commit; a refused or failing unit leaves only its audit row and its neighbours
their work. Real server, real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import text

from telemed import appkeys
from telemed.accounts.principal import Actor
from telemed.audit.log import AuditEntry
from telemed.audit.work import AuditedWork
from telemed.cases.schemas import NewNote
from telemed.db.batches import Batches, NestedUnit
from telemed.db.engine import create_engine, create_sessionmaker
from tests.support.api import call
from tests.support.audit import audit_rows, verified_outcomes, verify
from tests.support.batches import (
    Unit,
    actor_of,
    all_in_one_batch,
    batched_case,
    between_notes,
    until,
)
from tests.support.cases import create_case
from tests.support.server import RunningServer


async def test_a_refused_note_among_accepted_ones_leaves_its_row_and_nothing_else(
    server: RunningServer, database_url: str
) -> None:
    doctor = await server.sign_in("bs.namcan")
    case_id = (await create_case(doctor))["id"]
    author = await actor_of(server, "bs.namcan")
    stranger = await actor_of(server, "bs.uminh")  # another district: may not see the case
    cases = server.app[appkeys.CASE_SERVICE]
    batches = server.app[appkeys.AUDITED_WORK].batches

    def note(actor: Actor, n: int) -> Unit:
        return lambda: cases.add_note(actor, case_id, NewNote(body=f"note {n}"))

    units = [note(author, 0), note(author, 1), note(stranger, 2), note(author, 3)]
    results = await all_in_one_batch(batches, units)

    refused = results[2]
    assert type(refused).__name__ == "NotFound"
    stored: list[Any] = [result for n, result in enumerate(results) if n != 2]
    assert [pair[0]["body"] for pair in stored] == ["note 0", "note 1", "note 3"]
    events = (await call(doctor, "GET", f"/api/v1/cases/{case_id}/events"))["events"]
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert [e["data"]["note"]["body"] for e in events if e["type"] == "note.created"] == [
        "note 0",
        "note 1",
        "note 3",
    ]
    rows = [row for row in await audit_rows(database_url) if row["action"] == "note.create"]
    assert [(row["actor_username"], row["outcome"]) for row in rows] == [
        ("bs.namcan", "success"),
        ("bs.namcan", "success"),
        ("bs.uminh", "denied"),
        ("bs.namcan", "success"),
    ]
    result = await verify(database_url)
    assert result.ok, result.reason


async def test_a_failing_unit_is_rolled_back_alone_and_recorded_as_an_error(
    server: RunningServer, database_url: str
) -> None:
    batched = await batched_case(server)
    work, doctor, author, case_id, _cases = batched

    async def failing() -> None:
        async with work(author, "test.failing", case_id=case_id) as unit:
            unit.entry.object_id = "broken"
            raise RuntimeError("broken on purpose")

    units = between_notes(batched, failing)
    results = await all_in_one_batch(work.batches, units)

    assert isinstance(results[1], RuntimeError)
    events = (await call(doctor, "GET", f"/api/v1/cases/{case_id}/events"))["events"]
    bodies = [e["data"]["note"]["body"] for e in events if e["type"] == "note.created"]
    assert bodies == ["before", "after"]
    rows = await audit_rows(database_url)
    failed = [row for row in rows if row["action"] == "test.failing"]
    assert [(row["outcome"], row["object_id"]) for row in failed] == [("error", "broken")]


async def test_a_unit_rolled_back_after_its_audit_row_leaves_the_chain_straight(
    server: RunningServer, database_url: str
) -> None:
    """A batch keeps the chain's end in memory between its units; a unit that wrote its
    success row and then rolled back to its savepoint takes that row with it, and the
    next unit chains from the row before, not from the one that is gone."""
    batched = await batched_case(server)
    work, _doctor, author, case_id, _cases = batched

    async def fails_after_its_row() -> None:
        async with work(author, "test.first_row_kept", case_id=case_id) as unit:
            # Recorded after the unit's own row, and refused there (it has no text form).
            unit.also.append(AuditEntry("test.also", object_id=object()))  # type: ignore[arg-type]

    units = between_notes(batched, fails_after_its_row)
    results = await all_in_one_batch(work.batches, units)

    assert isinstance(results[1], TypeError), results[1]
    assert await verified_outcomes(database_url, {"note.create", "test.first_row_kept"}) == [
        ("note.create", "success"),
        ("test.first_row_kept", "error"),
        ("note.create", "success"),
    ]


async def test_a_lone_unit_commits_at_once_and_a_nested_one_is_refused(
    server: RunningServer,
) -> None:
    work: AuditedWork = server.app[appkeys.AUDITED_WORK]
    author = await actor_of(server, "bs.namcan")
    before = work.batches.committed_batches
    async with work(author, "test.alone"):
        pass
    assert work.batches.committed_batches == before + 1
    with pytest.raises(NestedUnit):
        async with work(author, "test.outer"), work(author, "test.inner"):
            pass


async def test_a_queued_unit_that_gives_up_does_not_strand_the_open_batch(
    server: RunningServer,
) -> None:
    work: AuditedWork = server.app[appkeys.AUDITED_WORK]
    author = await actor_of(server, "bs.namcan")
    go = asyncio.Event()

    async def first() -> None:
        async with work(author, "test.first"):
            await go.wait()

    async def second() -> None:
        async with work(author, "test.second"):
            pass

    holder = asyncio.create_task(first())
    await until(lambda: work.batches.busy)
    quitter = asyncio.create_task(second())
    await until(lambda: work.batches.waiting == 1)
    go.set()
    # The first unit ends while the second waits, so it leaves its batch open for it...
    await until(lambda: not work.batches.busy)
    # ...and the second gives up before its turn: somebody must still commit the first.
    quitter.cancel()
    await asyncio.wait_for(holder, 10)
    with pytest.raises(asyncio.CancelledError):
        await quitter


async def test_a_unit_cancelled_mid_statement_leaves_its_neighbours_their_work(
    server: RunningServer,
) -> None:
    """A request given up on while its statement runs (a shutdown, a timeout) must not
    break the transaction it shares: the statement ends, the unit rolls back alone."""
    batched = await batched_case(server)
    work, doctor, author, case_id, _cases = batched
    started = asyncio.Event()
    slow = text(
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 2000000) "
        "SELECT count(*) FROM c"
    )

    async def given_up() -> None:
        async with work(author, "test.given_up", case_id=case_id) as unit:
            started.set()
            await unit.db.execute(slow)

    async def canceller() -> None:
        task = asyncio.create_task(given_up())
        await started.wait()
        await asyncio.sleep(0.05)  # the statement is running now
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    units = between_notes(batched, canceller)
    results = await all_in_one_batch(work.batches, units)

    assert not any(isinstance(result, BaseException) for result in results), results
    events = (await call(doctor, "GET", f"/api/v1/cases/{case_id}/events"))["events"]
    bodies = [e["data"]["note"]["body"] for e in events if e["type"] == "note.created"]
    assert bodies == ["before", "after"]


async def test_a_batch_counts_the_time_it_waited_for_another_writers_turn(
    server: RunningServer, database_url: str
) -> None:
    """Two writers on one database (as two processes are): while one batch holds the write
    turn (PostgreSQL's chain lock, SQLite's write lock), the other's batch waits, and says
    how long; /metrics shows the wait."""
    ours = server.app[appkeys.AUDITED_WORK].batches
    engine = create_engine(database_url)
    other = Batches(create_sessionmaker(engine))
    held = 0.3
    try:
        async with other.turn():
            waiting = asyncio.create_task(_one_turn(ours))
            await asyncio.sleep(held)  # the other writer holds its turn this long at least
        await waiting
    finally:
        await other.close()
        await engine.dispose()
    assert ours.waited_seconds >= held, ours.waited_seconds
    assert other.held_seconds >= held, other.held_seconds
    async with server.http().get("/metrics") as response:
        metrics = await response.text()
    waited = [
        float(line.split()[1])
        for line in metrics.splitlines()
        if line.startswith("telemed_write_turn_wait_seconds_sum")
    ]
    assert len(waited) == 1, metrics
    assert waited[0] >= held, waited


async def _one_turn(batches: Batches) -> None:
    async with batches.turn() as db:
        await db.execute(text("SELECT 1"))
