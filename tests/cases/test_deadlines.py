"""Deadlines: due times per urgency in the API, and the tick that writes a reminder before
and an escalation after each deadline, once, however many processes tick."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

from telemed import appkeys
from telemed.cases.board import replay
from telemed.clock import ManualClock
from telemed.settings import Settings
from tests.support.api import call
from tests.support.audit import audit_rows
from tests.support.cases import act, create_case, decide, to_session
from tests.support.participants import participant
from tests.support.server import RunningServer, running

HOUR = 3600
NOTICES = ("case.deadline_near", "case.deadline_passed")


def at(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


async def notices(server: RunningServer, case_id: int) -> list[tuple[str, Any, Any]]:
    chair = await server.sign_in("gs.chutoa")
    log = await call(chair, "GET", f"/api/v1/cases/{case_id}/events?after=0")
    return [
        (e["type"], e["data"]["deadline"], e["actor"])
        for e in log["events"]
        if e["type"] in NOTICES
    ]


async def test_the_api_shows_the_answer_then_the_decision_due(
    server: RunningServer, clock: ManualClock
) -> None:
    doctor, chair = await server.sign_in("bs.namcan"), await server.sign_in("gs.chutoa")
    requested = clock.now()
    case_id = int((await create_case(doctor, urgency="urgent"))["id"])
    board = await call(doctor, "GET", f"/api/v1/cases/{case_id}")
    assert at(board["deadlines"]["answer_due_at"]) == requested + timedelta(hours=24)
    assert board["deadlines"]["decision_due_at"] is None
    [item] = [i for i in (await call(chair, "GET", "/api/v1/cases"))["items"] if i["id"] == case_id]
    assert item["deadlines"] == board["deadlines"]

    clock.advance(2 * HOUR)
    doctor, chair = await server.sign_in("bs.namcan"), await server.sign_in("gs.chutoa")
    await act(chair, case_id, "accept")
    board = await call(doctor, "GET", f"/api/v1/cases/{case_id}")
    assert board["deadlines"]["answer_due_at"] is None
    answered = requested + timedelta(hours=2)
    assert at(board["deadlines"]["first_answered_at"]) == answered
    assert at(board["deadlines"]["decision_due_at"]) == answered + timedelta(hours=24)

    decided_id, _ = await decide(server, doctor)
    board = await call(doctor, "GET", f"/api/v1/cases/{decided_id}")
    assert board["deadlines"]["answer_due_at"] is None
    assert board["deadlines"]["decision_due_at"] is None


async def test_a_reminder_before_and_an_escalation_after_each_deadline_once(
    server: RunningServer, clock: ManualClock, database_url: str
) -> None:
    doctor, chair = await server.sign_in("bs.namcan"), await server.sign_in("gs.chutoa")
    member, secretary = (
        await participant(server, "gs.timmach"),
        await participant(server, "gs.chutoa"),
    )
    start = clock.now()
    case_id = int((await create_case(doctor, urgency="emergency"))["id"])
    ticks = server.app[appkeys.DEADLINE_SERVICE]

    assert await ticks.tick(start + timedelta(minutes=44)) == 0
    assert await ticks.tick(start + timedelta(minutes=46)) == 1  # 15 of 60 minutes left
    assert await ticks.tick(start + timedelta(minutes=50)) == 0
    assert await notices(server, case_id) == [("case.deadline_near", "answer", None)]
    assert await ticks.tick(start + timedelta(minutes=61)) == 1
    assert await ticks.tick(start + timedelta(hours=5)) == 0
    assert await notices(server, case_id) == [
        ("case.deadline_near", "answer", None),
        ("case.deadline_passed", "answer", None),
    ]
    # The council is reminded; those who triage are told it has passed.
    await member.until(lambda: any(n["kind"] == "case.deadline_near" for n in member.notices))
    await secretary.until(
        lambda: any(n["kind"] == "case.deadline_passed" for n in secretary.notices)
    )
    assert not any(n["kind"] == "case.deadline_passed" for n in member.notices)
    reminder = next(n for n in member.notices if n["kind"] == "case.deadline_near")
    assert (reminder["case_id"], reminder["deadline"]) == (case_id, "answer")

    # The decision's deadline runs from the first answer.
    clock.advance(5 * HOUR)
    answered = clock.now()
    chair = await server.sign_in("gs.chutoa")
    await to_session(chair, case_id)
    assert await ticks.tick(answered + timedelta(minutes=30)) == 0
    # First seen once passed (the server was down, say): the escalation alone.
    assert await ticks.tick(answered + timedelta(minutes=61)) == 1
    assert (await notices(server, case_id))[2:] == [("case.deadline_passed", "decision", None)]

    rows = await audit_rows(database_url, action="case.deadline", case_id=case_id)
    assert [(r["actor_username"], r["actor_id"], r["outcome"]) for r in rows] == [
        ("system", None, "success")
    ] * 3
    # The reminders change nothing on the board, whoever folds the log.
    log = await call(chair, "GET", f"/api/v1/cases/{case_id}/events?after=0")
    board = await call(chair, "GET", f"/api/v1/cases/{case_id}")
    assert replay(log["events"])["status"] == board["status"] == "in_session"
    await member.close()
    await secretary.close()


async def test_two_processes_ticking_at_once_write_each_event_once(
    settings: Settings, clock: ManualClock
) -> None:
    async with running(settings, clock) as first, running(settings, clock) as second:
        doctor = await first.sign_in("bs.namcan")
        start = clock.now()
        ids = [int((await create_case(doctor, urgency="emergency"))["id"]) for _ in range(3)]
        services = [s.app[appkeys.DEADLINE_SERVICE] for s in (first, second)]
        later = start + timedelta(minutes=61)
        written = await asyncio.gather(*(s.tick(later) for s in services for _ in range(2)))
        assert sum(written) == 3
        for case_id in ids:
            assert await notices(first, case_id) == [("case.deadline_passed", "answer", None)]
