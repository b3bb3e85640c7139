"""Appending to the audit chain inside the caller's transaction."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from telemed.accounts.principal import Actor
from telemed.audit.chain import GENESIS_HASH, chain_hash
from telemed.audit.models import AuditRecord
from telemed.clock import Clock

# Any constant works; it names the one lock that keeps the chain a straight line.
_CHAIN_LOCK_KEY = 0x7E1E_AD17


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
    ) -> AuditRecord:
        """Append one row in ``db``'s transaction; it commits or rolls back with the work.

        On PostgreSQL a transaction-scoped advisory lock serializes appenders (across
        processes too) from here to commit; SQLite's ``BEGIN IMMEDIATE`` already does.
        """
        if db.get_bind().dialect.name == "postgresql":
            await db.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _CHAIN_LOCK_KEY})
        last = (
            await db.execute(
                select(AuditRecord.seq, AuditRecord.hash).order_by(AuditRecord.seq.desc()).limit(1)
            )
        ).first()
        seq, prev_hash = (last[0] + 1, last[1]) if last else (1, GENESIS_HASH)
        principal = actor.principal
        record = AuditRecord(
            seq=seq,
            at=self._clock.now(),
            actor_id=principal.user_id if principal and not principal.is_system else None,
            actor_username=principal.username if principal else actor.attempted_username,
            actor_role=principal.role.value if principal else None,
            actor_facility=principal.facility.code if principal and principal.facility else None,
            address=actor.address[:64],
            action=entry.action,
            case_id=entry.case_id,
            object_id=entry.object_id,
            outcome=outcome.value,
            request_id=actor.request_id[:32],
            content_hash=entry.content_hash,
            stepped_up_at=entry.stepped_up_at,
            prev_hash=prev_hash,
        )
        record.hash = chain_hash(prev_hash, record)
        db.add(record)
        await db.flush()
        return record
