"""Appending to the audit chain inside the caller's transaction."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from telemed.accounts.principal import Actor
from telemed.audit.chain import GENESIS_HASH, values_hash
from telemed.audit.models import AuditRecord
from telemed.clock import Clock
from telemed.db.base import table
from telemed.db.deferred import defer, kept

_LAST = select(AuditRecord.seq, AuditRecord.hash).order_by(AuditRecord.seq.desc()).limit(1)
_TABLE = table(AuditRecord)
# The chain's end (seq, hash) after the transaction's last append: a batch's units append
# one after another, so only its first reads the end from the table.
_TAIL = "telemed.audit.tail"


class Outcome(enum.StrEnum):
    SUCCESS = "success"
    DENIED = "denied"
    ERROR = "error"


@dataclass
class AuditEntry:
    action: str
    case_id: int | None = None
    object_id: str | None = None
    # The SHA-256 of the signed decision or the note the action stored (chained).
    content_hash: str | None = None
    # When the signer re-entered their password before a signature (chained).
    stepped_up_at: datetime | None = None


class AuditLog:
    """Appends rows to the chain. Nothing in Telemed updates or deletes them."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    async def record(
        self, db: AsyncSession, actor: Actor, entry: AuditEntry, outcome: Outcome
    ) -> None:
        """Append one row in ``db``'s transaction; it commits or rolls back with the work.

        ``db`` is a transaction of ``telemed.db.batches``: on PostgreSQL it holds the
        chain's advisory lock from its first statement to its commit (across processes
        too), and SQLite's ``BEGIN IMMEDIATE`` serializes writers, so the last row read
        here stays the last until this one follows it. The transaction keeps the end
        after its first read, and the row waits to be inserted with the batch's others
        (telemed/db/deferred.py: both go back with a savepoint that rolls back).
        """
        transaction = kept(db)
        tail = transaction.get(_TAIL)
        if tail is None:
            last = (await db.execute(_LAST)).first()
            tail = (last[0], last[1]) if last else (0, GENESIS_HASH)
        seq, prev_hash = tail[0] + 1, tail[1]
        principal = actor.principal
        values = {
            "seq": seq,
            "at": self._clock.now(),
            "actor_id": principal.user_id if principal and not principal.is_system else None,
            "actor_username": principal.username if principal else actor.attempted_username,
            "actor_role": principal.role.value if principal else None,
            "actor_facility": principal.facility.code if principal and principal.facility else None,
            "address": actor.address[:64],
            "action": entry.action,
            "case_id": entry.case_id,
            "object_id": entry.object_id,
            "outcome": outcome.value,
            "request_id": actor.request_id[:32],
            "content_hash": entry.content_hash,
            "stepped_up_at": entry.stepped_up_at,
            "prev_hash": prev_hash,
        }
        values["hash"] = values_hash(prev_hash, values)
        defer(db, _TABLE, values)
        transaction[_TAIL] = (seq, values["hash"])
