"""Queries on notifications: writing them once, the inbox, marking them read."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from telemed.cases.models import Case, CaseStatus
from telemed.notifications.models import Notification


class NotificationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add_once(self, rows: Sequence[dict[str, Any]]) -> list[int]:
        """Insert ``rows``; a row whose (user_id, key) is already stored is skipped. Returns
        the ids of the rows this call stored: the loser of a race stores (and sends) none."""
        if not rows:
            return []
        dialect = self._session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        statement = (
            insert(Notification)
            .values(list(rows))
            .on_conflict_do_nothing(index_elements=["user_id", "key"])
            .returning(Notification.id)
        )
        return list(await self._session.scalars(statement))

    async def by_ids(self, ids: Sequence[int]) -> Sequence[Notification]:
        if not ids:
            return []
        rows = await self._session.scalars(
            select(Notification).where(Notification.id.in_(ids)).order_by(Notification.id)
        )
        return rows.all()

    async def for_events(self, pairs: Sequence[tuple[int, int]]) -> Sequence[Notification]:
        """The notifications caused by these (case_id, seq) events."""
        if not pairs:
            return []
        rows = await self._session.scalars(
            select(Notification)
            .where(tuple_(Notification.case_id, Notification.seq).in_(list(pairs)))
            .order_by(Notification.id)
        )
        return rows.all()

    async def page(self, user_id: int, before: int | None, limit: int) -> Sequence[Notification]:
        """The user's notifications, newest first, older than id ``before``."""
        query = select(Notification).where(Notification.user_id == user_id)
        if before is not None:
            query = query.where(Notification.id < before)
        rows = await self._session.scalars(query.order_by(Notification.id.desc()).limit(limit))
        return rows.all()

    async def unread(self, user_id: int) -> int:
        count = await self._session.scalar(
            select(func.count())
            .select_from(Notification)
            .where(Notification.user_id == user_id, Notification.read_at.is_(None))
        )
        return int(count or 0)

    async def mine(self, user_id: int, notification_id: int) -> Notification | None:
        row = await self._session.get(Notification, notification_id)
        return row if row is not None and row.user_id == user_id else None

    async def mark_all_read(self, user_id: int, now: datetime) -> None:
        await self._session.execute(
            update(Notification)
            .where(Notification.user_id == user_id, Notification.read_at.is_(None))
            .values(read_at=now)
        )

    async def sessions_between(self, start: datetime, end: datetime) -> Sequence[Case]:
        """Scheduled cases whose session time is after ``start`` and at most ``end``."""
        rows = await self._session.scalars(
            select(Case)
            .where(
                Case.status == CaseStatus.SCHEDULED,
                Case.scheduled_at > start,
                Case.scheduled_at <= end,
            )
            .order_by(Case.id)
        )
        return rows.all()
