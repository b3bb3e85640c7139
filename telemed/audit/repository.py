"""Queries over the audit table. Only reads: rows are appended by ``AuditLog`` alone."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Select, select
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from telemed.audit.models import AuditRecord
from telemed.audit.schemas import AuditFilters

_COLUMNS = tuple(AuditRecord.__table__.columns)


def _filtered(filters: AuditFilters) -> Select[AuditRecord]:
    statement = select(AuditRecord)
    if filters.actor is not None:
        statement = statement.where(AuditRecord.actor_username == filters.actor)
    if filters.case_id is not None:
        statement = statement.where(AuditRecord.case_id == filters.case_id)
    if filters.action is not None:
        statement = statement.where(AuditRecord.action == filters.action)
    if filters.outcome is not None:
        statement = statement.where(AuditRecord.outcome == filters.outcome)
    if filters.since is not None:
        statement = statement.where(AuditRecord.at >= filters.since)
    if filters.until is not None:
        statement = statement.where(AuditRecord.at < filters.until)
    return statement


class AuditRepository:
    def __init__(self, db: AsyncSession) -> None:
        self._db = db

    async def newest_first(
        self, filters: AuditFilters, before_seq: int | None, limit: int
    ) -> Sequence[AuditRecord]:
        """A page of the review, newest first, strictly before ``before_seq``."""
        statement = _filtered(filters)
        if before_seq is not None:
            statement = statement.where(AuditRecord.seq < before_seq)
        statement = statement.order_by(AuditRecord.seq.desc()).limit(limit)
        return (await self._db.scalars(statement)).all()

    async def oldest_first(
        self, filters: AuditFilters, after_seq: int, limit: int
    ) -> Sequence[AuditRecord]:
        """A batch of an export, in chain order, strictly after ``after_seq``."""
        statement = _filtered(filters).where(AuditRecord.seq > after_seq)
        statement = statement.order_by(AuditRecord.seq).limit(limit)
        return (await self._db.scalars(statement)).all()

    async def chain_batch(self, after_seq: int | None, limit: int) -> Sequence[RowMapping]:
        """Raw rows in seq order for verification (no lower bound on the first batch, so
        a row slipped in below seq 1 is seen too)."""
        statement = select(*_COLUMNS)
        if after_seq is not None:
            statement = statement.where(AuditRecord.seq > after_seq)
        statement = statement.order_by(AuditRecord.seq).limit(limit)
        return (await self._db.execute(statement)).mappings().all()

    async def last(self) -> tuple[int, str] | None:
        """The seq and hash at the end of the chain."""
        statement = select(AuditRecord.seq, AuditRecord.hash)
        row = (await self._db.execute(statement.order_by(AuditRecord.seq.desc()).limit(1))).first()
        return (row[0], row[1]) if row else None
