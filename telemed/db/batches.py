"""Group commit: the units of work that queue while one write transaction is open share it.

Every audited unit (a case change, a refusal's row, a read's row) takes its turn in the
open transaction, runs its work in a SAVEPOINT of its own, and waits for the transaction's COMMIT
before it answers. The transaction commits as soon as nobody else waits for a turn (or
``max_units`` have run), so a lone request pays one commit as before, and a hundred
concurrent requests pay one fsync between them instead of a hundred.

Order and durability hold as before: units run one after another in the order they asked
(an ``asyncio.Lock`` is FIFO), each sees the ones before it, and nobody is answered before
the commit that stores them. A unit that fails rolls back to its savepoint and leaves its
neighbours alone. On PostgreSQL the transaction takes the audit chain's advisory lock as
its first statement, before any row lock, so the chain stays one straight line across
processes and batches never hold row locks at once (see ``serialize_writes``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

log = logging.getLogger(__name__)

# Any constant works; it names the one lock that keeps the audit chain a straight line.
CHAIN_LOCK_KEY = 0x7E1E_AD17
_CHAIN_LOCK = text("SELECT pg_advisory_xact_lock(:key)")
MAX_UNITS = 200
# Told after each commit: how many units it stored, how long the COMMIT took and how long
# the batch waited for its write turn before its first unit.
CommitObserver = Callable[[int, float, float], None]


async def serialize_writes(db: AsyncSession) -> None:
    """On PostgreSQL, take the audit chain's advisory lock until ``db``'s transaction ends.

    Every batch takes it as its first statement, so batches (of every process) never hold
    row locks at the same time. A writer outside the batches that takes more than one row
    lock (the sign-in throttle's counters) calls this first too: otherwise its locks and a
    batch's, taken unit after unit in no global order, could cross and deadlock. A writer
    of one row at a time cannot close such a cycle and need not wait. SQLite's
    ``BEGIN IMMEDIATE`` already serializes every writer: it is sent here, with the
    transaction's connection, rather than before its first statement, so that the wait for
    it is a batch's wait too (``Batches.waited_seconds``).
    """
    if db.get_bind().dialect.name == "postgresql":
        await db.execute(_CHAIN_LOCK, {"key": CHAIN_LOCK_KEY})
    else:
        await db.connection()


class NestedUnit(RuntimeError):
    """A unit opened inside another unit's turn: it would wait for itself forever."""


@dataclass(eq=False)
class _Batch:
    session: AsyncSession
    committed: asyncio.Future[None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )
    units: int = 0
    # Seconds it waited for the database's write turn (SQLite's write lock, PostgreSQL's
    # audit chain lock, which every process's batches take), and when it got it.
    waited: float = 0.0
    turn_at: float = 0.0


class Batches:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        max_units: int = MAX_UNITS,
        observe: CommitObserver | None = None,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._max_units = max_units
        self._observe = observe
        self._turn = asyncio.Lock()
        self._waiting = 0
        self._batch: _Batch | None = None
        self._holder: asyncio.Task[object] | None = None
        self._committing: set[asyncio.Task[None]] = set()
        self.committed_batches = 0
        self.committed_units = 0
        # Seconds the committed batches waited for their write turn, and held it (from
        # getting it to the end of their commit): how much writers queue behind each other.
        self.waited_seconds = 0.0
        self.held_seconds = 0.0

    @property
    def waiting(self) -> int:
        """Units waiting for their turn."""
        return self._waiting

    @property
    def busy(self) -> bool:
        """A unit has the turn."""
        return self._turn.locked()

    @asynccontextmanager
    async def turn(self) -> AsyncIterator[AsyncSession]:
        """The shared transaction, for one unit.

        The unit keeps its own work in a savepoint (``AuditedWork`` does), so that what it
        leaves when it fails (its audit row) is kept. Leaving the block waits for the
        transaction's commit; a failed commit raises here, then the block's own error.
        """
        if self._holder is not None and self._holder is asyncio.current_task():
            raise NestedUnit("a unit of work was opened inside another one")
        await self._acquire()
        try:
            self._holder = asyncio.current_task()
            batch = await self._open()
            failure: BaseException | None = None
            try:
                yield batch.session
            except BaseException as error:
                failure = error
            batch.units += 1
            if self._waiting == 0 or batch.units >= self._max_units:
                # Shielded: a request cancelled here must not leave its neighbours' commit
                # half done.
                await asyncio.shield(self._commit(batch))
        finally:
            self._holder = None
            self._release()
        await asyncio.shield(batch.committed)
        if failure is not None:
            raise failure

    async def _acquire(self) -> None:
        self._waiting += 1
        try:
            await self._turn.acquire()
        except BaseException:
            self._waiting -= 1
            self._rescue()
            raise
        self._waiting -= 1

    def _release(self) -> None:
        self._turn.release()
        self._rescue()

    def _rescue(self) -> None:
        """Commit an open batch that nobody is left to commit: its last unit went on
        because someone waited, and that someone gave up (a cancelled request)."""
        if self._batch is not None and self._waiting == 0 and not self._turn.locked():
            task = asyncio.create_task(self._commit_alone())
            self._committing.add(task)
            task.add_done_callback(self._committing.discard)

    async def _commit_alone(self) -> None:
        async with self._turn:
            if self._batch is not None:
                await self._commit(self._batch)

    async def _open(self) -> _Batch:
        if self._batch is None:
            session = self._sessionmaker()
            asked = time.perf_counter()
            try:
                await session.begin()
                await serialize_writes(session)
            except BaseException:
                await session.close()
                raise
            now = time.perf_counter()
            self._batch = _Batch(session, waited=now - asked, turn_at=now)
        return self._batch

    async def _commit(self, batch: _Batch) -> None:
        """Commit ``batch`` (the caller holds the turn) and tell every unit in it."""
        self._batch = None
        started = time.perf_counter()
        try:
            await batch.session.commit()
        except BaseException as error:
            log.error("a batch of %d units failed to commit", batch.units, exc_info=error)
            if not batch.committed.done():
                batch.committed.set_exception(error)
            # Retrieved here too, so that a batch nobody waits for any more is not logged
            # again by asyncio as an unretrieved exception.
            batch.committed.exception()
        else:
            ended = time.perf_counter()
            self.committed_batches += 1
            self.committed_units += batch.units
            self.waited_seconds += batch.waited
            self.held_seconds += ended - batch.turn_at
            if self._observe is not None:
                self._observe(batch.units, ended - started, batch.waited)
            if not batch.committed.done():
                batch.committed.set_result(None)
        finally:
            await batch.session.close()

    async def close(self) -> None:
        """At shutdown: commit what is open."""
        async with self._turn:
            if self._batch is not None:
                await self._commit(self._batch)
        await asyncio.gather(*self._committing, return_exceptions=True)
