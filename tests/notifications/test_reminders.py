"""Reminders 30 and 5 minutes before a session, on a clock the test moves, sent once by
two servers (two schedulers) sharing one database."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import timedelta

import pytest

from telemed import appkeys
from telemed.clock import ManualClock
from telemed.settings import Settings
from tests.support.api import call
from tests.support.cases import act, create_case, to_scheduled
from tests.support.participants import participant
from tests.support.server import RunningServer, running

INBOX = "/api/v1/notifications"
COUNCIL = ("gs.chutoa", "ts.thuky", "gs.timmach")


@pytest.fixture
async def two(make_settings: Callable[..., Settings]) -> AsyncIterator[list[RunningServer]]:
    """Two servers on one database, each with its own clock (moved together) and a
    scheduler that only ticks when the test says. No Redis: a notice reaches only the
    sockets of the server that stored it, so a user connected to both counts the sends."""
    shared = {"scheduler_interval_seconds": 3600.0}
    a_clock, b_clock = ManualClock(), ManualClock()
    async with (
        running(make_settings(**shared), a_clock) as a,
        running(make_settings(**shared), b_clock) as b,
    ):
        a.clocks = b.clocks = [a_clock, b_clock]  # type: ignore[attr-defined]
        yield [a, b]


def _advance(servers: list[RunningServer], minutes: float) -> None:
    for clock in servers[0].clocks:  # type: ignore[attr-defined]
        clock.advance(minutes * 60)


async def _tick_both(servers: list[RunningServer]) -> None:
    await asyncio.gather(*(s.app[appkeys.SCHEDULER].tick() for s in servers))


async def _reminders(server: RunningServer, username: str) -> list[tuple[int, int, str]]:
    who = await server.sign_in(username)
    items = (await call(who, "GET", f"{INBOX}?limit=100"))["items"]
    return [
        (n["case_id"], n["minutes_before"], n["scheduled_at"])
        for n in items
        if n["kind"] == "session.reminder"
    ]


def _at(clock: ManualClock, minutes: int) -> str:
    return (clock.now() + timedelta(minutes=minutes)).isoformat()


async def test_each_reminder_fires_once_across_two_schedulers(two: list[RunningServer]) -> None:
    a, b = two
    clock = a.clocks[0]  # type: ignore[attr-defined]
    doctor, chair = await a.sign_in("bs.namcan"), await a.sign_in("gs.chutoa")
    case_id = int((await create_case(doctor))["id"])
    await to_scheduled(chair, case_id, _at(clock, 40))
    session_at = (await call(chair, "GET", f"/api/v1/cases/{case_id}"))["scheduled_at"]
    # A participant with a socket on each server hears each reminder once in all.
    sockets = [await participant(server, "gs.timmach") for server in two]

    def heard() -> list[int]:
        notices = [n for who in sockets for n in who.notices]
        return sorted(n["minutes_before"] for n in notices if n["kind"] == "session.reminder")

    await _tick_both(two)  # 40 minutes before: nothing is due
    assert await _reminders(a, "gs.timmach") == []

    _advance(two, 11)  # 29 minutes before
    await _tick_both(two)
    await _tick_both(two)
    for name in (*COUNCIL, "bs.namcan"):
        assert await _reminders(b, name) == [(case_id, 30, session_at)]
    await sockets[0].until(lambda: heard() == [30])

    _advance(two, 25)  # 4 minutes before
    await _tick_both(two)
    _advance(two, 1)
    await _tick_both(two)
    for name in (*COUNCIL, "bs.namcan"):
        assert await _reminders(a, name) == [(case_id, 5, session_at), (case_id, 30, session_at)]
    await sockets[0].until(lambda: heard() == [5, 30])
    # Another council's member is not a participant.
    assert await _reminders(a, "gs.thankinh") == []

    _advance(two, 10)  # the session time has passed: nothing more
    await _tick_both(two)
    assert len(await _reminders(a, "gs.chutoa")) == 2
    await asyncio.sleep(0.5)
    assert heard() == [5, 30]
    for who in sockets:
        await who.close()


async def test_a_rescheduled_session_is_reminded_anew_and_a_cancelled_one_not(
    two: list[RunningServer],
) -> None:
    a, _ = two
    clock = a.clocks[0]  # type: ignore[attr-defined]
    doctor, chair = await a.sign_in("bs.namcan"), await a.sign_in("gs.chutoa")
    moved = int((await create_case(doctor))["id"])
    await to_scheduled(chair, moved, _at(clock, 20))
    cancelled = int((await create_case(doctor, patient_code="NC-2026-300"))["id"])
    await to_scheduled(chair, cancelled, _at(clock, 20))

    await _tick_both(two)  # 20 minutes before both: the 30-minute reminder
    first = await _reminders(a, "gs.chutoa")
    assert sorted((c, m) for c, m, _ in first) == [(moved, 30), (cancelled, 30)]

    await act(chair, moved, "schedule", scheduled_at=_at(clock, 60))
    await act(doctor, cancelled, "cancel")
    _advance(two, 17)  # 3 minutes before the old time: neither case is reminded
    await _tick_both(two)
    assert await _reminders(a, "gs.chutoa") == first

    _advance(two, 15)  # 25 minutes before the new time
    await _tick_both(two)
    latest = await _reminders(a, "gs.chutoa")
    assert latest[0][:2] == (moved, 30)
    assert latest[0][2] != next(s for c, _, s in first if c == moved)
    assert len(latest) == 3
