"""A unit of work: one transaction whose audit row commits with it.

Every service action that touches a case, an account or the audit trail runs inside
``async with work(actor, "note.create", case_id=...) as unit``. On success the audit row
is appended in the same transaction just before commit, so the change and its record are
stored together or not at all. When the action is refused (or fails), its work is rolled
back (to its savepoint) and a ``denied`` (or ``error``) row is stored instead, then the
error propagates to the transport. Units share transactions with the units queued beside
them (group commit, telemed/db/batches.py); each answers only after its commit.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from telemed.accounts.principal import Actor
from telemed.audit.log import AuditEntry, AuditLog, Outcome
from telemed.clock import SystemClock
from telemed.db.batches import Batches, CommitObserver
from telemed.db.deferred import savepoint
from telemed.db.engine import create_engine, create_sessionmaker
from telemed.db.migrations import ensure_migrated
from telemed.errors import (
    AuthenticationRequired,
    CsrfRejected,
    DomainError,
    Forbidden,
    InvalidCredentials,
    NotFound,
    TooManyAttempts,
)
from telemed.settings import Settings

log = logging.getLogger(__name__)

DENIALS = (
    AuthenticationRequired,
    CsrfRejected,
    Forbidden,
    InvalidCredentials,
    NotFound,
    TooManyAttempts,
)


def outcome_of(error: DomainError) -> Outcome:
    """How the trail names a refusal (denied) or a failure (error)."""
    return Outcome.DENIED if isinstance(error, DENIALS) else Outcome.ERROR


@dataclass
class Unit:
    db: AsyncSession
    entry: AuditEntry
    # Whom the success row names when the work itself establishes identity (a sign-in
    # starts anonymous and ends as the user); None keeps the actor the work began with.
    actor: Actor | None = None
    # Rows for further auditable things the same work did (a new user seated on a council
    # at once): written after ``entry``, on success only.
    also: list[AuditEntry] = field(default_factory=list)


class AuditedWork:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        audit: AuditLog,
        *,
        observe: CommitObserver | None = None,
    ) -> None:
        self._audit = audit
        # Units share write transactions (group commit): see telemed/db/batches.py.
        self.batches = Batches(sessionmaker, observe=observe)

    @asynccontextmanager
    async def __call__(
        self,
        actor: Actor,
        action: str,
        *,
        case_id: int | None = None,
        object_id: str | None = None,
    ) -> AsyncIterator[Unit]:
        entry = AuditEntry(action, case_id, object_id)
        async with self.batches.turn() as db:
            try:
                async with savepoint(db):
                    unit = Unit(db, entry)
                    yield unit
                    for done in (entry, *unit.also):
                        await self._audit.record(db, unit.actor or actor, done, Outcome.SUCCESS)
            except DomainError as error:
                # The work is rolled back to its savepoint; its refusal is stored instead.
                await self._audit.record(db, actor, entry, outcome_of(error))
                raise
            except Exception:
                try:
                    async with savepoint(db):
                        await self._audit.record(db, actor, entry, Outcome.ERROR)
                except Exception:
                    log.exception("could not record the failure of %s in the audit trail", action)
                raise

    async def record_alone(self, actor: Actor, entry: AuditEntry, outcome: Outcome) -> None:
        """Store one audit row (for a refusal decided before any work began)."""
        async with self.batches.turn() as db:
            await self._audit.record(db, actor, entry, outcome)


@asynccontextmanager
async def command_database(
    settings: Settings,
) -> AsyncIterator[tuple[async_sessionmaker[AsyncSession], SystemClock, AuditedWork]]:
    """For commands (``telemed user``, ``audit``, ``demo``): the configured database at the
    newest schema (or DatabaseNotMigrated), its sessions, the clock and the audited unit of
    work; disposed of after."""
    engine = create_engine(settings.effective_database_url)
    try:
        await ensure_migrated(engine)
        sessionmaker, clock = create_sessionmaker(engine), SystemClock()
        yield sessionmaker, clock, AuditedWork(sessionmaker, AuditLog(clock))
    finally:
        await engine.dispose()
