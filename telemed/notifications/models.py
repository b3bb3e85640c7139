"""Storage of notifications: one row per user and notice, read or not."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from telemed.db.base import Base, UtcDateTime
from telemed.db.types import JsonDocument


class Notification(Base):
    """A notice for one user. ``key`` names what caused it (a case event and kind, or a
    reminder for one session time and offset): unique per user, so that the same notice
    written twice (two processes' schedulers) is stored once."""

    __tablename__ = "notifications"
    __table_args__ = (
        UniqueConstraint("user_id", "key"),
        Index("ix_notifications_user_id_id", "user_id", "id"),
        Index("ix_notifications_case_id_seq", "case_id", "seq"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    key: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(32))
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    # The case event that caused it; None for a reminder.
    seq: Mapped[int | None] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    # What the notice shows besides the title: urgency, scheduled_at, minutes_before.
    data: Mapped[dict[str, Any]] = mapped_column(JsonDocument)
    read_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class OutboxEmail(Base):
    """One notification to send by email, written in the notification's transaction.

    A sender claims a row by setting ``lease_until`` where no live lease is set (one
    conditional UPDATE, so one process wins), sends, then sets ``sent_at``; after an SMTP
    failure it clears the lease and sets ``next_attempt_at`` later (none: given up)."""

    __tablename__ = "email_outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    notification_id: Mapped[int] = mapped_column(ForeignKey("notifications.id"), unique=True)
    recipient: Mapped[str] = mapped_column(String(254))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), index=True)
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # The kind of the last failure (an exception's class), never the message's content.
    last_error: Mapped[str | None] = mapped_column(String(200))
