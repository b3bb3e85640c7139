"""Queries on notifications: writing them once, the inbox, marking them read."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from telemed.accounts.models import User
from telemed.cases.models import Case, CaseEvent, CaseStatus
from telemed.notifications.models import Notification, OutboxEmail


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


class OutboxRepository:
    """The email outbox: rows to send, claimed under a lease by one sender at a time."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def addresses(self, user_ids: Sequence[int]) -> dict[int, str]:
        """The email addresses of the active users among ``user_ids`` that have one."""
        if not user_ids:
            return {}
        rows = await self._session.execute(
            select(User.id, User.email).where(
                User.id.in_(user_ids), User.email.is_not(None), User.is_active.is_(True)
            )
        )
        return {user_id: email for user_id, email in rows if email}

    def add(self, row: OutboxEmail) -> None:
        self._session.add(row)

    async def due(self, now: datetime, limit: int) -> list[int]:
        rows = await self._session.scalars(
            select(OutboxEmail.id)
            .where(
                OutboxEmail.sent_at.is_(None),
                OutboxEmail.next_attempt_at <= now,
                or_(OutboxEmail.lease_until.is_(None), OutboxEmail.lease_until < now),
            )
            .order_by(OutboxEmail.id)
            .limit(limit)
        )
        return list(rows)

    async def claim(self, outbox_id: int, now: datetime, until: datetime) -> bool:
        """Take the row unless it is sent or another sender's lease is still running: one
        conditional UPDATE, so of two senders exactly one sees it change."""
        result = await self._session.execute(
            update(OutboxEmail)
            .where(
                OutboxEmail.id == outbox_id,
                OutboxEmail.sent_at.is_(None),
                or_(OutboxEmail.lease_until.is_(None), OutboxEmail.lease_until < now),
            )
            .values(lease_until=until)
        )
        return bool(getattr(result, "rowcount", 0) == 1)

    async def get(self, outbox_id: int) -> tuple[OutboxEmail, Notification] | None:
        row = (
            await self._session.execute(
                select(OutboxEmail, Notification)
                .join(Notification, Notification.id == OutboxEmail.notification_id)
                .where(OutboxEmail.id == outbox_id)
            )
        ).first()
        return (row[0], row[1]) if row is not None else None

    async def invitations_before(self, case_id: int, seq: int) -> int:
        """How many times the case was scheduled up to event ``seq``: numbers the
        invitations of its session (iCalendar SEQUENCE)."""
        count = await self._session.scalar(
            select(func.count())
            .select_from(CaseEvent)
            .where(
                CaseEvent.case_id == case_id,
                CaseEvent.type == "case.scheduled",
                CaseEvent.seq <= seq,
            )
        )
        return int(count or 0)
