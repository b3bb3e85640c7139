"""Storage models for cases, their event log, notes, attachments and decisions.

The event log (``case_events``) is the truth every participant's board is built from; the
other tables hold the same facts in a shape that is quick to query. Both are written in
one transaction.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from telemed.db.base import Base, UtcDateTime
from telemed.db.types import JsonDocument, enum_column


class Urgency(enum.StrEnum):
    EMERGENCY = "emergency"
    URGENT = "urgent"
    ROUTINE = "routine"


URGENCY_RANK = {Urgency.EMERGENCY: 0, Urgency.URGENT: 1, Urgency.ROUTINE: 2}


class Sex(enum.StrEnum):
    FEMALE = "female"
    MALE = "male"
    OTHER = "other"
    UNKNOWN = "unknown"


class CaseStatus(enum.StrEnum):
    REQUESTED = "requested"
    INFO_REQUESTED = "info_requested"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    SCHEDULED = "scheduled"
    IN_SESSION = "in_session"
    DECIDED = "decided"
    CLOSED = "closed"
    CANCELLED = "cancelled"


class ConsultationMode(enum.StrEnum):
    """How the council answers: in writing on the board, or in a live session. Chosen on
    acceptance; a case may move from one to the other (telemed/cases/workflow.py)."""

    WRITTEN = "written"
    LIVE = "live"


class Case(Base):
    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    requesting_facility_id: Mapped[int] = mapped_column(ForeignKey("facilities.id"), index=True)
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    council_id: Mapped[int] = mapped_column(ForeignKey("councils.id"), index=True)
    patient_code: Mapped[str] = mapped_column(String(64))
    patient_sex: Mapped[Sex] = mapped_column(enum_column(Sex, "patient_sex"))
    patient_birth_year: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(Text)
    specialty: Mapped[str] = mapped_column(String(100))
    urgency: Mapped[Urgency] = mapped_column(enum_column(Urgency, "urgency"))
    urgency_rank: Mapped[int] = mapped_column(Integer)
    status: Mapped[CaseStatus] = mapped_column(enum_column(CaseStatus, "case_status"))
    scheduled_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # None until accepted.
    mode: Mapped[ConsultationMode | None] = mapped_column(
        enum_column(ConsultationMode, "consultation_mode")
    )
    # The written round: when members are asked to have answered by, and when the chair
    # closed it (signing then needs no more opinions). A new round clears the closing.
    answer_by: Mapped[datetime | None] = mapped_column(UtcDateTime())
    round_closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    outcome: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # The council's first answer (accept, decline, a question back): the first deadline met
    # and the decision's deadline started (telemed/cases/deadlines.py; added by 0012).
    first_answered_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # The seq of the newest event; bumped in the same transaction as each event insert.
    last_seq: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (Index("ix_cases_queue", "urgency_rank", "created_at", "id"),)


class CaseIdentity(Base):
    """Who the patient is, sealed (telemed/cases/identity_cipher.py): never in the case row,
    its events, lists or logs; read only through IdentityService, each read audited."""

    __tablename__ = "case_identities"

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class CaseQuestion(Base):
    __tablename__ = "case_questions"

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    number: Mapped[int] = mapped_column(Integer, primary_key=True)
    text: Mapped[str] = mapped_column(Text)


class CaseEvent(Base):
    __tablename__ = "case_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    seq: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(String(64))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    data: Mapped[dict[str, Any]] = mapped_column(JsonDocument)
    # The whole event as the room receives it, written once when it is appended: replays
    # embed it as it is (telemed/jsontext.py). ``data`` stays for the queries into it.
    body: Mapped[str] = mapped_column(Text, server_default="")

    __table_args__ = (UniqueConstraint("case_id", "seq", name="uq_case_events_case_seq"),)


class Note(Base):
    __tablename__ = "notes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    body: Mapped[str] = mapped_column(Text)
    # Rendered once at write time: a note never changes, and rendering 10,000 notes on
    # every board read cost about 200 ms.
    body_html: Mapped[str] = mapped_column(Text, default="")
    question: Mapped[int | None] = mapped_column(Integer)
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("notes.id"))
    # Makes retries safe: one note per (case, author, client_id).
    client_id: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (
        UniqueConstraint("case_id", "author_id", "client_id", name="uq_notes_client_id"),
        # A page of the board's notes by seq, and the corrections of a page's notes (0013).
        Index("ix_notes_case_seq", "case_id", "seq", unique=True),
        Index("ix_notes_supersedes", "supersedes_id"),
    )


class AttachmentKind(enum.StrEnum):
    IMAGE = "image"
    PDF = "pdf"
    DICOM = "dicom"
    RECORDING = "recording"


class Attachment(Base):
    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    filename: Mapped[str] = mapped_column(String(255))
    media_type: Mapped[str] = mapped_column(String(100))
    kind: Mapped[AttachmentKind] = mapped_column(enum_column(AttachmentKind, "attachment_kind"))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(String(500), default="")
    preview_sha256: Mapped[str | None] = mapped_column(String(64))


class DecisionStatus(enum.StrEnum):
    DRAFT = "draft"
    SIGNED = "signed"


class Decision(Base):
    __tablename__ = "decisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    status: Mapped[DecisionStatus] = mapped_column(enum_column(DecisionStatus, "decision_status"))
    # Optimistic concurrency for drafts: every edit must name the version it edits.
    version: Mapped[int] = mapped_column(Integer)
    answers: Mapped[list[dict[str, Any]]] = mapped_column(JsonDocument)
    treatment_direction: Mapped[str] = mapped_column(Text)
    transfer: Mapped[bool] = mapped_column(Boolean)
    follow_up: Mapped[str] = mapped_column(Text, default="")
    amends_id: Mapped[int | None] = mapped_column(ForeignKey("decisions.id"))
    drafted_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    signed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    signed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    content_sha256: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Stance(enum.StrEnum):
    CONCUR = "concur"
    DISSENT = "dissent"


class DecisionOpinion(Base):
    __tablename__ = "decision_opinions"

    decision_id: Mapped[int] = mapped_column(ForeignKey("decisions.id"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    stance: Mapped[Stance] = mapped_column(enum_column(Stance, "stance"))
    reason: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(UtcDateTime())
