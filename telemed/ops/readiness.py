"""What an operator's load balancer and monitoring ask: may this process take traffic, and
how is it doing.

``/healthz`` only says the process answers (liveness: restart it when this fails).
``/readyz`` checks what requests need: the database, Redis when configured, Janus (the
SFU) when configured (at least one instance answers), and free disk space for uploads
(readiness: send no traffic while this fails). Each check is bounded in
time, so a hung dependency makes the answer "unavailable", never a hung probe. A check that
runs late is not cancelled (a statement cut off halfway would cost its database connection):
it finishes in the background, and the next probes wait for that same check rather than
start another.

Beside it run two samplers whose figures go to ``/metrics``: the event loop's lag (how
late a timer fires: the one number that says "this process is overloaded") and the head
of the audit chain (a chain that stops growing while requests are served is worth a look).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Protocol

from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from telemed.audit.repository import AuditRepository

log = logging.getLogger(__name__)

CHECK_SECONDS = 2.0
LAG_INTERVAL = 0.5
HEAD_INTERVAL = 15.0


class Gauge(Protocol):
    def set(self, value: float) -> None: ...


class Observer(Protocol):
    def observe(self, amount: float) -> None: ...


@dataclass(frozen=True)
class Check:
    ok: bool
    detail: dict[str, Any]


class Readiness:
    def __init__(
        self,
        engine: AsyncEngine,
        redis: Redis | None,
        data_dir: Path,
        min_free_bytes: int,
        *,
        sfu: Callable[[], Awaitable[tuple[bool, dict[str, Any]]]] | None = None,
    ) -> None:
        self._engine = engine
        self._redis = redis
        self._data_dir = data_dir
        self._min_free = min_free_bytes
        self._sfu = sfu
        # Checks still running, one at most per name (see the module's docstring).
        self._running: dict[str, asyncio.Task[Check]] = {}

    async def report(self) -> tuple[bool, dict[str, Any]]:
        checks: dict[str, Callable[[], Awaitable[Check]]] = {
            "database": self._database,
            "disk": self._disk,
        }
        if self._redis is not None:
            checks["redis"] = self._redis_ping
        if self._sfu is not None:
            checks["janus"] = self._janus
        tasks = [self._start(name, check) for name, check in checks.items()]
        await asyncio.wait(tasks, timeout=CHECK_SECONDS)
        results = [_outcome(task) for task in tasks]
        body = {name: {"ok": r.ok, **r.detail} for name, r in zip(checks, results, strict=True)}
        ready = all(r.ok for r in results)
        return ready, {"status": "ready" if ready else "unavailable", "checks": body}

    @property
    def running(self) -> set[str]:
        """The checks that have not answered yet."""
        return set(self._running)

    def _start(self, name: str, check: Callable[[], Awaitable[Check]]) -> asyncio.Task[Check]:
        task = self._running.get(name)
        if task is None:
            task = self._running[name] = asyncio.ensure_future(check())
            task.add_done_callback(partial(self._ended, name))
        return task

    def _ended(self, name: str, task: asyncio.Task[Check]) -> None:
        self._running.pop(name, None)
        if not task.cancelled():
            task.exception()  # retrieved: a late check's failure is no unhandled error

    async def close(self) -> None:
        """At shutdown: the checks still running end first."""
        await asyncio.gather(*self._running.values(), return_exceptions=True)

    async def _database(self) -> Check:
        async with self._engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        return Check(True, {})

    async def _redis_ping(self) -> Check:
        assert self._redis is not None
        await self._redis.ping()
        return Check(True, {})

    async def _janus(self) -> Check:
        assert self._sfu is not None
        ok, detail = await self._sfu()
        return Check(ok, detail)

    async def _disk(self) -> Check:
        usage = await asyncio.to_thread(shutil.disk_usage, self._data_dir)
        ok = usage.free >= self._min_free
        return Check(ok, {"free_bytes": usage.free, "required_bytes": self._min_free})


def _outcome(task: asyncio.Task[Check]) -> Check:
    if not task.done():
        return Check(False, {"error": f"no answer within {CHECK_SECONDS:g} s"})
    error = task.exception()
    if error is None:
        return task.result()
    # The kind of failure only: messages of drivers may carry addresses or queries.
    log.warning("readiness check failed: %s", type(error).__name__)
    return Check(False, {"error": type(error).__name__})


async def sample_loop_lag(last: Gauge, histogram: Observer, stop: asyncio.Event) -> None:
    """How late a timer of LAG_INTERVAL fires, until ``stop`` is set."""
    while True:
        started = time.perf_counter()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), LAG_INTERVAL)
        if stop.is_set():
            return
        lag = max(0.0, time.perf_counter() - started - LAG_INTERVAL)
        last.set(lag)
        histogram.observe(lag)


async def sample_audit_head(
    sessionmaker: async_sessionmaker[AsyncSession], head: Gauge, stop: asyncio.Event
) -> None:
    """The last seq of the audit chain, every HEAD_INTERVAL, until ``stop`` is set.

    Stopped by the event rather than cancelled, so that a read in progress finishes and
    returns its connection before the engine is disposed.
    """
    while not stop.is_set():
        try:
            async with sessionmaker() as db, db.begin():
                last = await AuditRepository(db).last()
            head.set(last[0] if last is not None else 0)
        except Exception as error:
            log.warning("could not read the audit chain head: %s", type(error).__name__)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), HEAD_INTERVAL)


@asynccontextmanager
async def running(*samplers: Callable[[asyncio.Event], Awaitable[None]]) -> AsyncIterator[None]:
    """Background samplers for the lifetime of the block, stopped and awaited at its end."""
    stop = asyncio.Event()
    tasks = [asyncio.ensure_future(sampler(stop)) for sampler in samplers]
    try:
        yield
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
