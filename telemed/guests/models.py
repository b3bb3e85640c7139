"""Storage of guest invitations: a one-time link to one case's room and call."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from telemed.db.base import Base, UtcDateTime


class GuestInvite(Base):
    """Only hashes are stored: of the invitation token and, once redeemed, of the guest's
        session token. Redeeming fills ``redeemed_at``; a redeemed invitation never works again,
    nor a revoked one (``revoked_at``)."""

    __tablename__ = "guest_invites"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    specialty: Mapped[str] = mapped_column(String(100))
    invited_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())
    redeemed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    session_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    csrf_token: Mapped[str | None] = mapped_column(String(64))
    session_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # Revoked by the chair or secretary: the link no longer works, the session has ended.
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
