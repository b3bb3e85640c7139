"""Live delivery under contention: nothing missed, nothing twice, nothing out of order.

The invariant: every event committed on a case reaches every socket that is in the case's
room when it commits, exactly once, in order (its join replay and the live events
together are the case's log). The stress test widens the race windows on purpose: every
database statement is slowed (so each await on the database is long), the sweep that
re-checks connections runs back to back, other sockets join and leave the same rooms
throughout, and the test clients never heal themselves, so any loss shows.

The head check (``case:head``) is the safety net for losses of any other cause; it is
tested here at the socket level and in tests/browser/test_live.py in the browser.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator, Callable

import pytest
from sqlalchemy import event
from sqlalchemy.util import await_only

from telemed import appkeys
from telemed.clock import ManualClock
from telemed.realtime.rooms import case_room
from telemed.settings import Settings
from telemed.shapes import Json
from tests.support.cases import create_case
from tests.support.participants import Participant
from tests.support.server import RunningServer, running

ROOMS = 8
LISTENERS = ("gs.chutoa", "ts.thuky", "gs.timmach")
NOTES_PER_ROOM = 5
CHURNERS = 6
STATEMENT_DELAY = 0.004


@pytest.fixture
async def contended(
    make_settings: Callable[..., Settings], clock: ManualClock
) -> AsyncIterator[RunningServer]:
    """A server whose sweep runs back to back and whose database answers slowly."""
    settings = make_settings(
        socket_revalidate_seconds=0.01, socket_rate_per_second=1000, socket_burst=1000
    )
    async with running(settings, clock) as server:
        yield server


def slow_down_database(server: RunningServer, delay: float) -> None:
    """Every statement waits ``delay`` first, yielding the event loop (not blocking it)."""

    def wait(*_: object) -> None:
        await_only(asyncio.sleep(delay))

    event.listen(server.app[appkeys.ENGINE].sync_engine, "before_cursor_execute", wait)


async def sockets(server: RunningServer, username: str, count: int) -> list[Participant]:
    signed = await server.sign_in(username)
    people = []
    for _ in range(count):
        who = Participant(username, signed.token, server.url, server.socket(), signed=signed)
        who.listen()
        await who.connect()
        people.append(who)
    return people


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_every_committed_event_reaches_every_socket_of_the_room_once_in_order(
    contended: RunningServer,
) -> None:
    server = contended
    doctor = await server.sign_in("bs.namcan")
    case_ids = [(await create_case(doctor, title=f"Ca {n}"))["id"] for n in range(ROOMS)]
    # Other sockets join and leave rooms of their own throughout (a room with members
    # already watched by the sweep would hide a join that the sweep does not know about).
    churn_ids = [(await create_case(doctor, title=f"Khác {n}"))["id"] for n in range(ROOMS)]
    senders = await sockets(server, "bs.namcan", ROOMS)
    listeners = {name: await sockets(server, name, ROOMS) for name in LISTENERS}
    churners = [s for name in LISTENERS for s in await sockets(server, name, CHURNERS // 3)]
    slow_down_database(server, STATEMENT_DELAY)
    rng = random.Random(20261130)
    stop = asyncio.Event()

    async def churn(who: Participant) -> None:
        # Joins and leaves of other sockets in the same rooms, across many sweeps.
        while not stop.is_set():
            case_id = rng.choice(churn_ids)
            assert (await who.join(case_id))["ok"] is True
            await asyncio.sleep(rng.uniform(0, 0.02))
            assert (await who.request("case:leave", {"case_id": case_id}))["ok"] is True

    async def listen(who: Participant, case_id: int) -> None:
        await asyncio.sleep(rng.uniform(0, 0.5))
        assert (await who.join(case_id))["ok"] is True

    async def post(who: Participant, case_id: int) -> int:
        await who.join(case_id)
        last = 0
        for n in range(NOTES_PER_ROOM):
            ack = await who.note(case_id, f"Ý kiến {n}")
            assert ack["ok"] is True, ack
            last = ack["seq"]
        return last

    churning = [asyncio.create_task(churn(who)) for who in churners]
    await asyncio.gather(
        *(
            listen(who, case_ids[room])
            for people in listeners.values()
            for room, who in enumerate(people)
        )
    )
    heads = await asyncio.gather(*(post(senders[n], case_ids[n]) for n in range(ROOMS)))
    stop.set()
    await asyncio.gather(*churning)

    # Several sweeps pass while we wait: a socket left out never catches up by itself.
    async def caught_up(who: Participant, case_id: int, head: int) -> None:
        with contextlib.suppress(AssertionError):
            await who.until(lambda: head in who.seqs(case_id), within=10)

    await asyncio.gather(
        *(
            caught_up(who, case_ids[room], heads[room])
            for people in listeners.values()
            for room, who in enumerate(people)
        )
    )
    behind = [
        (who.username, case_ids[room], who.seqs(case_ids[room])[-1:])
        for people in listeners.values()
        for room, who in enumerate(people)
        if who.seqs(case_ids[room]) != list(range(1, heads[room] + 1))
    ]
    assert behind == [], f"sockets that missed, repeated or reordered events: {behind}"
    assert all(who.removed == [] for people in listeners.values() for who in people)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_a_socket_the_feed_does_not_deliver_to_is_told_the_head(
    server: RunningServer,
) -> None:
    doctor = await server.sign_in("bs.namcan")
    case_id = (await create_case(doctor))["id"]
    [chair] = await sockets(server, "gs.chutoa", 1)
    [stray] = await sockets(server, "gs.timmach", 1)
    heads: list[Json] = []
    stray.client.on("case:head", heads.append)
    assert (await chair.join(case_id))["ok"] is True
    # In the case's room without having joined through the feed: the shape of every loss
    # the feed cannot see (whatever put it there).
    await server.app[appkeys.SOCKETIO].enter_room(stray.client.get_sid("/"), case_room(case_id))

    assert (await chair.note(case_id, "Theo dõi men tim."))["seq"] == 2
    await stray.until(lambda: {"case_id": case_id, "last_seq": 2} in heads)
    assert stray.seqs(case_id) == []

    # It asks for what it missed, as a client behind the head does.
    ack = await stray.request("case:join", {"case_id": case_id, "after_seq": 0, "resync": True})
    assert [e["seq"] for e in ack["events"]] == [1, 2]
    metrics = await (await doctor.http.get("/metrics")).text()
    assert "telemed_live_healed_events_total 2.0" in metrics


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_the_sweep_tells_every_socket_of_the_room_the_head(
    make_settings: Callable[..., Settings], clock: ManualClock
) -> None:
    async with running(make_settings(socket_revalidate_seconds=0.1), clock) as server:
        doctor = await server.sign_in("bs.namcan")
        case_id = (await create_case(doctor))["id"]
        [chair] = await sockets(server, "gs.chutoa", 1)
        heads: list[Json] = []
        chair.client.on("case:head", heads.append)
        assert (await chair.join(case_id))["ok"] is True
        await chair.until(lambda: {"case_id": case_id, "last_seq": 1} in heads)
        metrics = await (await doctor.http.get("/metrics")).text()
        assert "telemed_live_healed_events_total 0.0" in metrics
