"""Delivering committed case events to this process's sockets: in order, once each.

Every process keeps, for each joined socket, the last seq it delivered per case (its
watermark). When the process learns that a case reached seq N (from a local commit or
from another process through Redis), it sends each socket of the room the events between
its watermark and N, read from the recent-event cache or from the committed log. Seqs are
allocated under the case row's lock, so when N is committed every seq below N is too: the
log read never meets a gap.

Joining replays the log and sets the watermark under the same per-case lock, so an event
is either in the replay or delivered live, never both and never neither.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

log = logging.getLogger(__name__)

Json = dict[str, Any]
EventReader = Callable[[int, int, int], Awaitable[list[Json]]]

# Recent events kept per case with local members: live delivery rarely reads the database.
CACHE_PER_CASE = 64


class SocketSender(Protocol):
    async def send(self, sid: str, event: str, data: Json) -> None:
        """Send to one socket of this process only (never through the message queue)."""
        ...


class CaseFeed:
    def __init__(self, sender: SocketSender, reader: EventReader) -> None:
        self._sender = sender
        self._reader = reader
        self._locks: dict[int, asyncio.Lock] = {}
        self._watermarks: dict[int, dict[str, int]] = {}
        self._recent: dict[int, deque[Json]] = {}

    def lock(self, case_id: int) -> asyncio.Lock:
        lock = self._locks.get(case_id)
        if lock is None:
            lock = self._locks[case_id] = asyncio.Lock()
        return lock

    def attach(self, case_id: int, sid: str, watermark: int) -> None:
        """Deliver events after ``watermark`` to ``sid`` from now on. Call under the lock."""
        self._watermarks.setdefault(case_id, {})[sid] = watermark

    def detach(self, case_id: int, sid: str) -> None:
        """Stop delivering to ``sid``. Call under the lock."""
        members = self._watermarks.get(case_id)
        if members is None:
            return
        members.pop(sid, None)
        if not members:
            del self._watermarks[case_id]
            self._recent.pop(case_id, None)
            lock = self._locks.get(case_id)
            if lock is not None and not lock.locked():
                del self._locks[case_id]

    def cases(self) -> list[int]:
        return list(self._watermarks)

    def members(self, case_id: int) -> dict[str, int]:
        return dict(self._watermarks.get(case_id, {}))

    def remember(self, events: list[Json]) -> None:
        """Keep freshly committed events of cases that have members here."""
        for event in events:
            case_id = event["case_id"]
            if case_id not in self._watermarks:
                continue
            recent = self._recent.setdefault(case_id, deque(maxlen=CACHE_PER_CASE))
            if not recent or event["seq"] > recent[-1]["seq"]:
                recent.append(event)

    async def announce(self, case_id: int, seq: int) -> None:
        """The case's log reached ``seq`` (committed): bring every local member up to it."""
        if not any(mark < seq for mark in self._watermarks.get(case_id, {}).values()):
            return
        async with self.lock(case_id):
            members = self._watermarks.get(case_id, {})
            behind = {sid: mark for sid, mark in members.items() if mark < seq}
            if not behind:
                return
            events = await self._events(case_id, min(behind.values()), seq)
            for sid in behind:
                for event in events:
                    # Re-read the watermark: a socket detached while we were sending stops.
                    mark = members.get(sid)
                    if mark is None:
                        break
                    if event["seq"] != mark + 1:
                        continue
                    members[sid] = event["seq"]
                    await self._sender.send(sid, "case:event", event)

    async def _events(self, case_id: int, after: int, upto: int) -> list[Json]:
        recent = self._recent.get(case_id)
        if recent and recent[0]["seq"] <= after + 1 and recent[-1]["seq"] >= upto:
            cached = [e for e in recent if after < e["seq"] <= upto]
            if _contiguous(cached, after, upto):
                return cached
        events = await self._reader(case_id, after, upto)
        if not _contiguous(events, after, upto):
            # Cannot happen while seqs are allocated under the case lock; deliver nothing
            # rather than a gap, and let the next announcement or the sweep catch up.
            log.error("case %s log is not contiguous after seq %s", case_id, after)
            return []
        for event in events:
            self.remember([event])
        return events


def _contiguous(events: list[Json], after: int, upto: int) -> bool:
    return [e["seq"] for e in events] == list(range(after + 1, upto + 1))
