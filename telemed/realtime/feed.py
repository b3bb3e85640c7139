"""Delivering committed case events to this process's sockets: in order, once each.

Every process keeps, for each joined socket, the last seq it delivered per case (its
watermark). When the process learns that a case reached seq N (from a local commit or
from another process through Redis), it sends each socket of the room the events between
its watermark and N, read from the recent-event cache or from the committed log. Seqs are
allocated under the case row's lock, so when N is committed every seq below N is too: the
log read never meets a gap.

Joining replays the log and sets the watermark under the same per-case lock, so an event
is either in the replay or delivered live, never both and never neither.

Whatever the cause, a socket must never stay behind in silence: announcements also tell
the room's head (``case:head``) to any socket of the case's room that the feed does not
deliver to, and the periodic sweep tells it to every socket of the room. A client whose
last applied seq is below the head joins again with its ``after_seq`` and gets the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

from telemed.shapes import Json

log = logging.getLogger(__name__)

EventReader = Callable[[int, int, int], Awaitable[list[Json]]]

# Recent events kept per case with local members: live delivery rarely reads the database.
CACHE_PER_CASE = 64


class SocketSender(Protocol):
    async def send(self, to: str | list[str], event: str, data: Json) -> None:
        """Send to sockets of this process only (never through the message queue); the
        message is encoded once for all of them."""
        ...

    def listeners(self, case_id: int) -> set[str]:
        """The sockets of this process in the case's room."""
        ...


@dataclass(eq=False)
class _Case:
    """What the feed keeps for one case while anyone holds it or any socket is attached."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    watermarks: dict[str, int] = field(default_factory=dict)
    recent: deque[Json] = field(default_factory=lambda: deque(maxlen=CACHE_PER_CASE))
    # Tasks inside hold() (running or waiting for the lock): the entry, and so its lock,
    # lives as long as one of them does, so no two tasks ever hold different locks.
    holders: int = 0


class CaseFeed:
    def __init__(self, sender: SocketSender, reader: EventReader) -> None:
        self._sender = sender
        self._reader = reader
        self._cases: dict[int, _Case] = {}

    @contextlib.asynccontextmanager
    async def hold(self, case_id: int) -> AsyncIterator[None]:
        """The case's delivery lock: joins, leaves and deliveries of one case in turn."""
        entry = self._cases.get(case_id)
        if entry is None:
            entry = self._cases[case_id] = _Case()
        entry.holders += 1
        try:
            async with entry.lock:
                yield
        finally:
            entry.holders -= 1
            if entry.holders == 0 and not entry.watermarks:
                del self._cases[case_id]

    def attach(self, case_id: int, sid: str, watermark: int) -> None:
        """Deliver events after ``watermark`` to ``sid`` from now on. Call inside hold()."""
        self._cases[case_id].watermarks[sid] = watermark

    def detach(self, case_id: int, sid: str) -> None:
        """Stop delivering to ``sid``. Call inside hold()."""
        entry = self._cases[case_id]
        entry.watermarks.pop(sid, None)
        if not entry.watermarks:
            entry.recent.clear()

    def cases(self) -> list[int]:
        return [case_id for case_id, entry in self._cases.items() if entry.watermarks]

    def remember(self, events: list[Json]) -> None:
        """Keep freshly committed events of cases that have members here."""
        for event in events:
            entry = self._cases.get(event["case_id"])
            if entry is None or not entry.watermarks:
                continue
            if not entry.recent or event["seq"] > entry.recent[-1]["seq"]:
                entry.recent.append(event)

    async def announce(self, case_id: int, seq: int, *, tell_everyone: bool = False) -> None:
        """The case's log reached ``seq`` (committed): bring every local member up to it.

        Sockets of the room that the feed does not deliver to (which should not exist) are
        told the head, so that they catch up by joining again; with ``tell_everyone`` (the
        periodic sweep) every socket of the room is told.
        """
        entry = self._cases.get(case_id)
        behind = entry is not None and any(m < seq for m in entry.watermarks.values())
        if not behind and not tell_everyone and not self._sender.listeners(case_id):
            return
        async with self.hold(case_id):
            entry = self._cases[case_id]
            await self._deliver(case_id, entry, seq)
            listeners = self._sender.listeners(case_id)
            told = listeners if tell_everyone else listeners - entry.watermarks.keys()
            if told:
                head = {"case_id": case_id, "last_seq": seq}
                await self._sender.send(sorted(told), "case:head", head)

    async def _deliver(self, case_id: int, entry: _Case, seq: int) -> None:
        members = entry.watermarks
        behind = [mark for mark in members.values() if mark < seq]
        if not behind:
            return
        events = await self._events(entry, case_id, min(behind), seq)
        for event in events:
            # Each event goes, in one message encoded once, to every member whose
            # watermark is just below it; so each socket gets the events in seq order.
            due = [sid for sid, mark in members.items() if mark == event["seq"] - 1]
            if not due:
                continue
            for sid in due:
                members[sid] = event["seq"]
            await self._sender.send(due, "case:event", event)

    async def _events(self, entry: _Case, case_id: int, after: int, upto: int) -> list[Json]:
        recent = entry.recent
        if recent and recent[0]["seq"] <= after + 1 and recent[-1]["seq"] >= upto:
            cached = [e for e in recent if after < e["seq"] <= upto]
            if _contiguous(cached, after, upto):
                return cached
        events = await self._reader(case_id, after, upto)
        if not _contiguous(events, after, upto):
            # Cannot happen while seqs are allocated under the case lock; deliver nothing
            # rather than a gap, and let the head check make the clients ask again.
            log.error("case %s log is not contiguous after seq %s", case_id, after)
            return []
        self.remember(events)
        return events


def _contiguous(events: list[Json], after: int, upto: int) -> bool:
    return [e["seq"] for e in events] == list(range(after + 1, upto + 1))
