"""Periodic jobs: every N seconds, each job's ``tick(now)``.

Every server process runs the same scheduler; a job that must act once across processes
makes that so itself (a unique key its second writer loses to, a lease). The time a tick
is given comes from the injectable clock, so tests drive jobs by calling ``tick`` on a
clock they move; the pace between ticks is real time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Protocol

from telemed.clock import Clock

log = logging.getLogger(__name__)

STOP_GRACE_SECONDS = 5.0


class Job(Protocol):
    async def tick(self, now: datetime) -> object:
        """Do what is due at ``now``."""
        ...


class Scheduler:
    def __init__(self, clock: Clock, interval: float, jobs: Sequence[Job]) -> None:
        self._clock = clock
        self._interval = interval
        self._jobs = tuple(jobs)

    async def tick(self) -> None:
        """Run every job once, at the clock's now; one job's failure is its own."""
        now = self._clock.now()
        for job in self._jobs:
            try:
                await job.tick(now)
            except Exception:
                log.exception("scheduled job %s failed", type(job).__name__)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        # Stopped, not cancelled: a tick in the middle of a transaction finishes it.
        stop = asyncio.Event()
        task = asyncio.create_task(self._loop(stop))
        try:
            yield
        finally:
            stop.set()
            _, late = await asyncio.wait([task], timeout=STOP_GRACE_SECONDS)
            for pending in late:
                pending.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def _loop(self, stop: asyncio.Event) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self._interval)
            if stop.is_set():
                return
            await self.tick()
