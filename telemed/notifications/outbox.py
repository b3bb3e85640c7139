"""Email: each stored notification, for a user with an address, goes through an outbox.

``EmailOutbox`` writes the outbox row in the notification's own transaction (so an email
is never lost with a process), ``EmailSender`` is a scheduler job: it claims due rows
under a lease (one conditional UPDATE: of several processes, one sends each row), sends,
and marks the row sent; after an SMTP failure it tries again later, backing off. A process
that dies between sending and marking may send that one email again when its lease ends.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Protocol

import aiosmtplib
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from telemed.clock import Clock
from telemed.notifications.email import INVITATIONS, compose
from telemed.notifications.models import Notification, OutboxEmail
from telemed.notifications.repository import OutboxRepository
from telemed.settings import Settings

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=5)
BATCH = 20
MAX_ATTEMPTS = 12


def backoff(attempts: int) -> timedelta:
    """After the n-th failure: 1, 2, 4 ... minutes, at most an hour."""
    return timedelta(seconds=min(60 * 2 ** (attempts - 1), 3600))


class Mailer(Protocol):
    async def send(self, message: EmailMessage) -> None:
        """Hand the message to the mail server; raise if it was not accepted."""
        ...


@dataclass(frozen=True)
class SmtpMailer:
    host: str
    port: int
    username: str
    password: str
    starttls: bool
    implicit_tls: bool
    timeout: float

    @classmethod
    def from_settings(cls, settings: Settings) -> SmtpMailer:
        return cls(
            settings.smtp_host,
            settings.smtp_port,
            settings.smtp_username,
            settings.smtp_password,
            settings.smtp_starttls,
            settings.smtp_implicit_tls,
            settings.smtp_timeout_seconds,
        )

    async def send(self, message: EmailMessage) -> None:
        await aiosmtplib.send(
            message,
            hostname=self.host,
            port=self.port,
            username=self.username or None,
            password=self.password or None,
            use_tls=self.implicit_tls,
            start_tls=False if self.implicit_tls else self.starttls,
            timeout=self.timeout,
        )


class EmailOutbox:
    """Observes stored notifications (in their transaction): one outbox row each, for a
    recipient with an email address."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    async def stored(self, db: AsyncSession, rows: Sequence[Notification]) -> None:
        outbox = OutboxRepository(db)
        addresses = await outbox.addresses(sorted({row.user_id for row in rows}))
        now = self._clock.now()
        for row in rows:
            if row.user_id in addresses:
                outbox.add(
                    OutboxEmail(
                        notification_id=row.id,
                        recipient=addresses[row.user_id],
                        attempts=0,
                        next_attempt_at=now,
                    )
                )
        await db.flush()


class EmailSender:
    """A scheduler job: sends the due outbox rows, each once across processes."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        mailer: Mailer,
        *,
        sender: str,
        public_url: str,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._mailer = mailer
        self._sender = sender
        self._public_url = public_url

    async def tick(self, now: datetime) -> None:
        async with self._sessionmaker() as db, db.begin():
            outbox = OutboxRepository(db)
            claimed = [
                outbox_id
                for outbox_id in await outbox.due(now, BATCH)
                if await outbox.claim(outbox_id, now, now + LEASE)
            ]
        for outbox_id in claimed:
            await self._send(outbox_id, now)

    async def _send(self, outbox_id: int, now: datetime) -> None:
        async with self._sessionmaker() as db:
            outbox = OutboxRepository(db)
            found = await outbox.get(outbox_id)
            assert found is not None
            entry, row = found
            sequence = 0
            if row.kind in INVITATIONS and row.seq is not None:
                scheduled = await outbox.invitations_before(row.case_id, row.seq)
                # A REQUEST is the n-th scheduling (0 first); a CANCEL comes after the last.
                sequence = scheduled - 1 if row.kind == "case.scheduled" else scheduled
            recipient = entry.recipient
        message = compose(
            row,
            recipient=recipient,
            sender=self._sender,
            public_url=self._public_url,
            sequence=max(sequence, 0),
            now=now,
        )
        error: str | None = None
        try:
            await self._mailer.send(message)
        except Exception as failure:
            # Any failure of the relay (refused, unreachable, timed out) is tried again.
            error = type(failure).__name__
            log.warning("email of notification %s not sent: %s", row.id, error)
        async with self._sessionmaker() as db, db.begin():
            entry = await db.get_one(OutboxEmail, outbox_id)
            entry.lease_until = None
            if error is None:
                entry.sent_at = now
                return
            entry.attempts += 1
            entry.last_error = error
            entry.next_attempt_at = (
                now + backoff(entry.attempts) if entry.attempts < MAX_ATTEMPTS else None
            )
