"""Reminders before a scheduled session: 30 and 5 minutes before, to every participant.

A job of the scheduler, run by every process. Each reminder is a notification whose key
names the case, the session's time and the offset: the first process to store it wins and
sends it, a second one's insert is skipped and it sends nothing. A rescheduled session has
a new time, hence new keys and new reminders; a cancelled one is no longer scheduled and
gets none.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from telemed.cases.models import Case
from telemed.cases.repository import CaseRepository
from telemed.notifications.recipients import REMINDER_MINUTES, Notice, session_participants
from telemed.notifications.repository import NotificationRepository
from telemed.notifications.service import NotificationService, Stored, rows_for, store
from telemed.shapes import Json, iso


def due_offset(case: Case, now: datetime) -> int | None:
    """The reminder due for ``case`` at ``now``: the nearest offset whose time has come
    (a process that was down at 30 minutes reminds once, at 5 minutes)."""
    assert case.scheduled_at is not None
    left = case.scheduled_at - now
    due = [m for m in REMINDER_MINUTES if timedelta(0) < left <= timedelta(minutes=m)]
    return min(due) if due else None


class SessionReminders:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        notifications: NotificationService,
        observers: Sequence[Stored] = (),
    ) -> None:
        self._sessionmaker = sessionmaker
        self._notifications = notifications
        self._observers = tuple(observers)

    async def tick(self, now: datetime) -> None:
        horizon = now + timedelta(minutes=max(REMINDER_MINUTES))
        async with self._sessionmaker() as db, db.begin():
            cases, rows = await NotificationRepository(db).sessions_between(now, horizon), []
            for case in cases:
                minutes = due_offset(case, now)
                if minutes is None:
                    continue
                people = await session_participants(CaseRepository(db), case)
                data: Json = {"scheduled_at": iso(case.scheduled_at), "minutes_before": minutes}
                notice = Notice("session.reminder", people, data)
                key = f"reminder:{case.id}:{iso(case.scheduled_at)}:{minutes}"
                rows += rows_for(case, notice, key, now, None)
            ids = await store(db, rows, self._observers)
        await self._notifications.deliver(ids)
