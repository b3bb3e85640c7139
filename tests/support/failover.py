"""One Telemed process killed (SIGKILL) under load, in the production topology, seen from
its clients; tests/ops/test_failover.py asserts on the outcome, bench/failover_bench.py
measures it.

Each client behaves as the browser's page does (docs/realtime.md): after a drop it
reconnects as socket.io-client does by default (the first attempt after 1 s +/- 50%, then
doubling up to 5 s, each attempt given 20 s), on every (re)connection it sends a
``case:join`` with the last seq it applied, it applies events in seq order, and it sends
every note with a ``client_id``, again with the same ``client_id`` until acknowledged.
python-socketio's own reconnection is not used: it gives each attempt one second to
connect, where the browser gives twenty, so on a loaded server it would measure its own
retries rather than the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import statistics
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import socketio

from tests.support.api import call
from tests.support.cases import NEW_CASE
from tests.support.server import SignedIn
from tests.support.topology import TelemedProcess, Topology

Json = dict[str, Any]
# Users who may read and write the demo cases (bs.namcan's requests to HDCM-MIENNAM).
WRITERS = ("bs.namcan", "gs.chutoa", "ts.thuky", "gs.timmach")
# The two in the call share a hospital network, so nginx's ip_hash gives them one process.
CALLERS = (("gs.chutoa", "127.0.250.2"), ("ts.thuky", "127.0.250.3"))
REQUEST_TIMEOUT = 60.0
# How many clients connect at once while the scene is set up.
CONNECT_BATCH = 25


class Dropped(Exception):
    """The connection ended before the answer came."""


class LiveClient:
    """One page in one case room: applies events in order, rejoins after a drop."""

    def __init__(self, name: str, topology: Topology, address: str, token: str) -> None:
        self.name = name
        self.topology = topology
        self.case_id = 0
        self.http = topology.http(address)
        self.token = token
        self.sio = topology.socket(self.http, reconnection=False)
        self.closing = False
        self.changed = asyncio.Event()
        self.joined = asyncio.Event()
        self._lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.last = 0
        self.gaps = 0
        self.duplicate_deliveries = 0
        self.bodies: list[str] = []
        self.drops: list[float] = []
        self.connected: list[float] = []
        self.rejoined: list[float] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self.sio.on("connect", self._on_connect)
        self.sio.on("disconnect", self._on_disconnect)
        self.sio.on("case:event", self._apply)

    async def connect(self, case_id: int) -> None:
        self.case_id = case_id
        await self.topology.connect(self.sio, auth={"token": self.token})
        await asyncio.wait_for(self.joined.wait(), REQUEST_TIMEOUT)

    def _on_connect(self) -> None:
        self.connected.append(time.monotonic())
        self._lost = asyncio.get_running_loop().create_future()
        # Never inside the client's read loop: the join waits for its own ack.
        self._spawn(self._join())

    def _on_disconnect(self, *_reason: object) -> None:
        self.drops.append(time.monotonic())
        self.joined.clear()
        if not self._lost.done():
            self._lost.set_result(None)
        self.changed.set()
        if not self.closing:
            self._spawn(self._reconnect())

    async def _reconnect(self) -> None:
        """socket.io-client's defaults: reconnectionDelay 1 s, reconnectionDelayMax 5 s,
        randomizationFactor 0.5, timeout 20 s."""
        delay = 1.0
        while not self.closing:
            await asyncio.sleep(delay * (1 + 0.5 * (2 * random.random() - 1)))
            try:
                await self.topology.connect(self.sio, auth={"token": self.token})
            except socketio.exceptions.ConnectionError:
                delay = min(2 * delay, 5.0)
            else:
                return

    async def _join(self) -> None:
        try:
            ack = await self.request("case:join", {"case_id": self.case_id, "after_seq": self.last})
        except Dropped:
            return  # the next connection joins again
        assert ack["ok"] is True, ack
        for event in ack["events"]:
            self._apply(event)
        if self.drops:
            self.rejoined.append(time.monotonic())
        await self.joined_again()
        self.joined.set()
        self.changed.set()

    async def joined_again(self) -> None:
        """What a page does once it is back in the room (the call, for callers)."""

    def _apply(self, event: Json) -> None:
        seq = event["seq"]
        if seq <= self.last:
            self.duplicate_deliveries += 1
            return
        if seq != self.last + 1:
            self.gaps += 1
        self.last = seq
        if event["type"] == "note.created":
            self.bodies.append(event["data"]["note"]["body"])
        self.changed.set()

    async def request(self, event: str, data: Json) -> Json:
        """Emits with an ack; ``Dropped`` if the connection ends first (or never answers)."""
        answered: asyncio.Future[Json] = asyncio.get_running_loop().create_future()
        lost = self._lost

        def on_ack(ack: Json) -> None:
            if not answered.done():
                answered.set_result(ack)

        try:
            await self.sio.emit(event, data, callback=on_ack)
        except socketio.exceptions.SocketIOError:
            raise Dropped() from None
        waiters: set[asyncio.Future[Any]] = {answered, lost}
        await asyncio.wait(waiters, timeout=REQUEST_TIMEOUT, return_when=asyncio.FIRST_COMPLETED)
        if not answered.done():
            raise Dropped()
        return answered.result()

    def _spawn(self, work: Any) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        self.closing = True
        for task in list(self._tasks):
            task.cancel()
        with contextlib.suppress(Exception):
            await self.sio.disconnect()


class NoteWriter(LiveClient):
    """Posts its notes one after the other, each until acknowledged."""

    def __init__(self, name: str, topology: Topology, address: str, token: str) -> None:
        super().__init__(name, topology, address, token)
        self.acked: dict[str, int] = {}
        self.resent = 0

    async def write(self, count: int, pace: float, on_ack: Callable[[], None]) -> None:
        for n in range(count):
            client_id = f"{self.name}-{n}"
            note = {"case_id": self.case_id, "body": f"note {client_id}", "client_id": client_id}
            while client_id not in self.acked:
                await self.joined.wait()
                try:
                    ack = await self.request("case:note", note)
                except Dropped:
                    self.resent += 1
                    continue
                assert ack["ok"] is True, ack
                self.acked[client_id] = ack["seq"]
                on_ack()
            await asyncio.sleep(pace)


class Caller(LiveClient):
    """In the case's call; back in it with ``replaces`` after every rejoin."""

    def __init__(self, name: str, topology: Topology, address: str, token: str) -> None:
        super().__init__(name, topology, address, token)
        self.peer_id = ""
        self.in_call: set[str] = set()
        self.sio.on("call:peer_joined", self._peer_joined)
        self.sio.on("call:peer_left", self._peer_left)

    async def joined_again(self) -> None:
        join: Json = {"case_id": self.case_id}
        if self.peer_id:
            join["replaces"] = self.peer_id
        try:
            ack = await self.request("call:join", join)
        except Dropped:
            return
        assert ack["ok"] is True, ack
        assert ack["state"] == "in_call", ack
        self.peer_id = ack["peer_id"]
        self.in_call = {peer["peer_id"] for peer in ack["peers_in_call"]}

    def _peer_joined(self, data: Json) -> None:
        self.in_call.add(data["peer"]["peer_id"])
        self.changed.set()

    def _peer_left(self, data: Json) -> None:
        self.in_call.discard(data["peer_id"])
        self.changed.set()


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else 0.0


@dataclass
class Outcome:
    """What the clients saw; every count is checked against the server's own log."""

    clients: int
    dropped: int
    victim_held: int
    notes_acked: int
    notes_lost: int
    notes_duplicated: int
    resent: int
    gaps: int
    duplicate_deliveries: int
    survivors_resent: int
    behind: int
    callers_together: bool
    reconnect_seconds: list[float] = field(default_factory=list)
    # Of which: from the drop to the new connection (the rest is the case:join).
    connect_seconds: list[float] = field(default_factory=list)
    since_kill_seconds: list[float] = field(default_factory=list)
    # Wall-clock seconds of each phase: connecting, writing (the kill within), catching up.
    phases: dict[str, float] = field(default_factory=dict)

    def summary(self) -> Json:
        return {
            "clients": self.clients,
            "dropped": self.dropped,
            "notes_acked": self.notes_acked,
            "notes_lost": self.notes_lost,
            "notes_duplicated": self.notes_duplicated,
            "resent": self.resent,
            "reconnect_p50_s": round(statistics.median(self.reconnect_seconds or [0.0]), 3),
            "reconnect_p99_s": round(percentile(self.reconnect_seconds, 0.99), 3),
            "connect_p50_s": round(statistics.median(self.connect_seconds or [0.0]), 3),
            "since_kill_p50_s": round(statistics.median(self.since_kill_seconds or [0.0]), 3),
            "since_kill_p99_s": round(percentile(self.since_kill_seconds, 0.99), 3),
        }


async def until(
    clients: Sequence[LiveClient], condition: Callable[[], bool], within: float
) -> None:
    """Waits for what the clients receive (never a fixed sleep); fails after ``within``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"not reached within {within} s")
        waits = [asyncio.ensure_future(client.changed.wait()) for client in clients]
        await asyncio.wait(waits, timeout=0.5, return_when=asyncio.FIRST_COMPLETED)
        for wait in waits:
            wait.cancel()
        for client in clients:
            client.changed.clear()


async def in_session_cases(topology: Topology, count: int) -> tuple[dict[str, SignedIn], list[int]]:
    """Sessions of the demo users and ``count`` cases in session."""
    people: dict[str, SignedIn] = {}
    for n, name in enumerate(WRITERS):
        people[name] = await topology.sign_in(name, f"127.0.9.{n + 2}")
    doctor, chair = people["bs.namcan"], people["gs.chutoa"]
    case_ids = []
    for _ in range(count):
        created = await call(doctor, "POST", "/api/v1/cases", NEW_CASE, expect=201, cookie=True)
        base = f"/api/v1/cases/{created['id']}/transitions"
        for body in (
            {"action": "accept"},
            {"action": "schedule", "scheduled_at": "2036-01-02T09:00:00+07:00"},
            {"action": "start_session"},
        ):
            await call(chair, "POST", base, body, cookie=True)
        case_ids.append(created["id"])
    return people, case_ids


async def connections(topology: Topology) -> list[int]:
    return [await process.connections() for process in topology.processes]


async def kill_one_under_load(
    topology: Topology,
    *,
    clients: int = 100,
    notes: int = 3,
    pace: float = 0.4,
    cases: int = 10,
    kill_at: float = 0.3,
    within: float = 120.0,
) -> Outcome:
    """``clients`` writers over ``cases`` rooms (each room on both processes) and two
    callers; when ``kill_at`` of the notes are acknowledged, the callers' process is
    killed. Returns once every client holds its room's whole log."""
    started = time.monotonic()
    people, case_ids = await in_session_cases(topology, cases)
    tokens = {name: who.token for name, who in people.items()}
    writers: list[NoteWriter] = []
    callers: list[Caller] = []
    try:
        for start in range(0, clients, CONNECT_BATCH):
            batch = []
            for n in range(start, min(clients, start + CONNECT_BATCH)):
                # Each from a /24 of its own: ip_hash spreads them over both processes, and
                # neighbours (n, n + 1) share a room.
                name = WRITERS[n % len(WRITERS)]
                writer = NoteWriter(f"w{n}", topology, f"127.0.{20 + n}.1", tokens[name])
                writers.append(writer)
                batch.append(writer.connect(case_ids[(n // 2) % cases]))
            await asyncio.gather(*batch)
        before = await connections(topology)
        for name, address in CALLERS:
            caller = Caller(name, topology, address, tokens[name])
            callers.append(caller)
            await caller.connect(case_ids[0])
        after = await connections(topology)
        held = [now - was for was, now in zip(before, after, strict=True)]
        assert sorted(held) == [0, len(CALLERS)], f"the callers are on both processes: {held}"
        victim = topology.processes[held.index(len(CALLERS))]
        victim_held = after[held.index(len(CALLERS))]
        await until(callers, lambda: _together(callers), within)
        connected = time.monotonic()

        outcome = await _write_and_kill(
            people["gs.chutoa"], victim, writers, callers, notes, pace, kill_at, within
        )
        outcome.victim_held = victim_held
        outcome.phases = {"connect": connected - started, **outcome.phases}
        return outcome
    finally:
        for client in [*writers, *callers]:
            await client.close()


def _together(callers: list[Caller]) -> bool:
    first, second = callers
    return first.in_call == {second.peer_id} and second.in_call == {first.peer_id}


async def _write_and_kill(
    reader: SignedIn,
    victim: TelemedProcess,
    writers: list[NoteWriter],
    callers: list[Caller],
    notes: int,
    pace: float,
    kill_at: float,
    within: float,
) -> Outcome:
    everyone: list[LiveClient] = [*writers, *callers]
    acked = 0
    threshold = int(kill_at * notes * len(writers))
    reached = asyncio.Event()

    def on_ack() -> None:
        nonlocal acked
        acked += 1
        if acked >= threshold:
            reached.set()

    started = time.monotonic()
    writing = asyncio.gather(*(writer.write(notes, pace, on_ack) for writer in writers))
    try:
        await asyncio.wait_for(reached.wait(), within)
        killed_at = time.monotonic()
        await victim.kill()
        await asyncio.wait_for(asyncio.shield(writing), within)
    finally:
        if not writing.done():
            writing.cancel()
            with contextlib.suppress(BaseException):
                await writing

    written = time.monotonic()
    # Every client ends with its room's whole log, and the callers are in one call again.
    case_ids = sorted({writer.case_id for writer in writers})
    heads = {case_id: await _head(reader, case_id) for case_id in case_ids}

    def settled() -> bool:
        caught_up = all(client.last >= heads[client.case_id] for client in everyone)
        return caught_up and _together(callers)

    with contextlib.suppress(AssertionError):
        await until(everyone, settled, within)

    settled_at = time.monotonic()
    stored: Counter[str] = Counter()
    for case_id in case_ids:
        stored.update(await _note_bodies(reader, case_id))
    sent = {f"note {client_id}" for writer in writers for client_id in writer.acked}
    dropped = [client for client in everyone if client.drops]
    reconnect = [client.rejoined[0] - client.drops[0] for client in dropped if client.rejoined]
    return Outcome(
        clients=len(everyone),
        dropped=len(dropped),
        victim_held=0,
        notes_acked=len(sent),
        notes_lost=len(sent - set(stored)),
        notes_duplicated=sum(count - 1 for count in stored.values()),
        resent=sum(writer.resent for writer in writers),
        gaps=sum(client.gaps for client in everyone),
        duplicate_deliveries=sum(client.duplicate_deliveries for client in everyone),
        survivors_resent=sum(writer.resent for writer in writers if not writer.drops),
        behind=sum(1 for client in everyone if client.last < heads[client.case_id]),
        callers_together=_together(callers),
        reconnect_seconds=reconnect,
        connect_seconds=[
            client.connected[1] - client.drops[0] for client in dropped if client.rejoined
        ],
        since_kill_seconds=[
            client.rejoined[0] - killed_at for client in dropped if client.rejoined
        ],
        phases={
            "write": written - started,
            "kill_after": killed_at - started,
            "catch_up": settled_at - written,
        },
    )


async def _head(reader: SignedIn, case_id: int) -> int:
    """The room's last seq, as the server's log says."""
    board = await call(reader, "GET", f"/api/v1/cases/{case_id}", cookie=True)
    head: int = board["last_seq"]
    return head


async def _note_bodies(reader: SignedIn, case_id: int) -> list[str]:
    """Every note body in the room's log, read back through nginx."""
    after, bodies = 0, []
    while True:
        path = f"/api/v1/cases/{case_id}/events?after={after}&limit=1000"
        page = await call(reader, "GET", path, cookie=True)
        for event in page["events"]:
            if event["type"] == "note.created":
                bodies.append(event["data"]["note"]["body"])
            after = event["seq"]
        if not page["has_more"]:
            return bodies
