"""Notifications: written with the change that causes them, delivered live after its
commit, and read back from the inbox.

``NotificationRecorder`` runs inside every case change's transaction (a hook of the case
log), so a committed change has its notifications stored, whatever happens to the process
a moment later. ``NotificationService`` hears the committed events (a listener of the case
log) and sends the stored rows live on each recipient's channel, through the broadcaster
that reaches every process; it also answers the inbox.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from telemed.accounts.principal import Principal
from telemed.background import Background
from telemed.cases.log import Change
from telemed.cases.models import Case
from telemed.clock import Clock
from telemed.errors import NotFound
from telemed.notifications.models import Notification
from telemed.notifications.recipients import NOTIFYING_EVENTS, Notice, notices_for
from telemed.notifications.repository import NotificationRepository
from telemed.realtime.notifications import Broadcaster, user_room
from telemed.shapes import Json, iso

log = logging.getLogger(__name__)

MAX_PAGE = 100


class Stored(Protocol):
    async def stored(self, db: AsyncSession, rows: Sequence[Notification]) -> None:
        """Called in the transaction that stored ``rows`` (the email outbox)."""
        ...


def notification_json(row: Notification) -> Json:
    """A notification as the inbox lists it and the live ``notify`` carries it."""
    return {
        **row.data,
        "id": row.id,
        "kind": row.kind,
        "case_id": row.case_id,
        "title": row.title,
        "seq": row.seq,
        "at": iso(row.at),
        "read_at": iso(row.read_at),
    }


def rows_for(case: Case, notice: Notice, key: str, at: datetime, seq: int | None) -> list[Json]:
    """The rows of one notice: one per recipient, named by ``key`` (unique per user)."""
    data: Json = {"urgency": case.urgency.value, **notice.data}
    return [
        {
            "user_id": user_id,
            "key": key,
            "kind": notice.kind,
            "case_id": case.id,
            "seq": seq,
            "title": case.title,
            "at": at,
            "data": data,
            "read_at": None,
        }
        for user_id in notice.user_ids
    ]


async def store(
    db: AsyncSession, rows: Sequence[dict[str, Any]], observers: Sequence[Stored]
) -> list[int]:
    """Store ``rows`` once (see ``NotificationRepository.add_once``); the ids this call
    stored, which ``observers`` (the outbox) hear of in the same transaction."""
    repo = NotificationRepository(db)
    ids = await repo.add_once(rows)
    if ids and observers:
        stored = await repo.by_ids(ids)
        for observer in observers:
            await observer.stored(db, stored)
    return ids


class NotificationRecorder:
    """A hook of the case log: stores each change's notifications in its transaction."""

    def __init__(self, observers: Sequence[Stored] = ()) -> None:
        self._observers = tuple(observers)

    async def staged(self, change: Change) -> None:
        case, rows = change.case, []
        for event in change.events:
            if event["type"] not in NOTIFYING_EVENTS:
                continue
            at = datetime.fromisoformat(event["at"])
            for notice in await notices_for(change.repo, case, event):
                key = f"event:{case.id}:{event['seq']}:{notice.kind}"
                rows += rows_for(case, notice, key, at, event["seq"])
        await store(change.repo.session, rows, self._observers)


class NotificationService:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        clock: Clock,
        broadcaster: Broadcaster,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._clock = clock
        self._broadcaster = broadcaster
        self._tasks = Background(log, "live notifications failed")

    # Live delivery of stored rows.

    async def committed(self, events: list[Json]) -> None:
        """A listener of the case log: the committed events' notifications, live. Sent
        beside the request, whose answer waits for the commit only."""
        if not any(event["type"] in NOTIFYING_EVENTS for event in events):
            return  # notes, attachments, the call...: nothing to read back
        self._tasks.spawn(self._events(events))

    async def close(self) -> None:
        await self._tasks.close()

    async def _events(self, events: list[Json]) -> None:
        pairs = [(e["case_id"], e["seq"]) for e in events]
        async with self._sessionmaker() as db:
            rows = await NotificationRepository(db).for_events(pairs)
        await self._send(rows)

    async def deliver(self, ids: Sequence[int]) -> None:
        """Send the stored notifications ``ids`` live (reminders, once stored)."""
        if not ids:
            return
        async with self._sessionmaker() as db:
            rows = await NotificationRepository(db).by_ids(ids)
        await self._send(rows)

    async def _send(self, rows: Sequence[Notification]) -> None:
        for row in rows:
            await self._broadcaster.broadcast(
                user_room(row.user_id), "notify", notification_json(row)
            )

    # The inbox: each user reads and marks only their own.

    async def page(self, principal: Principal, before: int | None, limit: int) -> Json:
        limit = max(1, min(limit, MAX_PAGE))
        async with self._sessionmaker() as db:
            repo = NotificationRepository(db)
            rows = await repo.page(principal.user_id, before, limit + 1)
            unread = await repo.unread(principal.user_id)
        items = [notification_json(row) for row in rows[:limit]]
        more = len(rows) > limit
        return {"items": items, "unread": unread, "next": items[-1]["id"] if more else None}

    async def unread(self, principal: Principal) -> int:
        async with self._sessionmaker() as db:
            return await NotificationRepository(db).unread(principal.user_id)

    async def mark_read(self, principal: Principal, notification_id: int) -> Json:
        async with self._sessionmaker() as db, db.begin():
            repo = NotificationRepository(db)
            row = await repo.mine(principal.user_id, notification_id)
            if row is None:
                # Another user's notification answers exactly like a missing one.
                raise NotFound("No such notification.")
            if row.read_at is None:
                row.read_at = self._clock.now()
            await db.flush()
            shown = notification_json(row)
            unread = await repo.unread(principal.user_id)
        await self._tell_count(principal.user_id, unread)
        return {"notification": shown, "unread": unread}

    async def mark_all_read(self, principal: Principal) -> Json:
        async with self._sessionmaker() as db, db.begin():
            await NotificationRepository(db).mark_all_read(principal.user_id, self._clock.now())
        await self._tell_count(principal.user_id, 0)
        return {"unread": 0}

    async def _tell_count(self, user_id: int, unread: int) -> None:
        # The user's other pages (on any process) update their badge.
        try:
            await self._broadcaster.broadcast(user_room(user_id), "inbox", {"unread": unread})
        except Exception:
            log.exception("could not announce the unread count")
