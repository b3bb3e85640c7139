"""The audit table: append-only, each row chained to the one before by SHA-256."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from telemed.db.base import Base, UtcDateTime


class AuditRecord(Base):
    __tablename__ = "audit_log"

    # The position in the chain: 1, 2, 3, ... with no gaps.
    seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False
    )
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    actor_id: Mapped[int | None] = mapped_column(Integer)
    actor_username: Mapped[str | None] = mapped_column(String(64))
    actor_role: Mapped[str | None] = mapped_column(String(32))
    actor_facility: Mapped[str | None] = mapped_column(String(32))
    address: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    case_id: Mapped[int | None] = mapped_column(Integer)
    object_id: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(16))
    request_id: Mapped[str] = mapped_column(String(32))
    # The SHA-256 of the signed decision or the note this row records (added by 0006);
    # chained when set, so the record cannot change without verification noticing.
    content_hash: Mapped[str | None] = mapped_column(String(64))
    # The step-up (password re-entered) behind a signature (added by 0012); chained when set.
    stepped_up_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    __table_args__ = (
        Index("ix_audit_log_case_seq", "case_id", "seq"),
        Index("ix_audit_log_actor_seq", "actor_id", "seq"),
        Index("ix_audit_log_at", "at"),
        Index("ix_audit_log_action_seq", "action", "seq"),
        # Added by 0003 for the review filters (actor by username, outcome).
        Index("ix_audit_log_username_seq", "actor_username", "seq"),
        Index("ix_audit_log_outcome_seq", "outcome", "seq"),
        # Added by 0006: the row that binds a decision or a note, found by its id.
        Index("ix_audit_log_action_object", "action", "object_id"),
    )
