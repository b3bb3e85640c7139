"""Typed inputs for case actions, shared by the HTTP and Socket.IO transports."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from telemed.cases.models import CaseStatus, Sex, Urgency

ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
LongText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20_000)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2_000)]
ClientId = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")
]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NewCase(Strict):
    council: ShortText = Field(description="code of the council asked")
    patient_code: Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[\w.-]+$"),
    ]
    patient_sex: Sex
    patient_birth_year: int = Field(ge=1900, le=2100)
    title: ShortText
    summary: LongText
    questions: list[LongText] = Field(min_length=1, max_length=20)
    specialty: ShortText
    urgency: Urgency


class CaseListQuery(Strict):
    status: CaseStatus | None = None
    urgency: Urgency | None = None
    cursor: str | None = Field(default=None, max_length=200)
    limit: int = Field(default=50, ge=1, le=200)


class EventsQuery(Strict):
    after: int = Field(default=0, ge=0)
    limit: int = Field(default=1000, ge=1, le=5000)


class NewNote(Strict):
    body: LongText
    question: int | None = Field(default=None, ge=1)
    supersedes: int | None = Field(default=None, ge=1)
    client_id: ClientId | None = None


TransitionAction = Literal[
    "accept",
    "decline",
    "request_info",
    "provide_info",
    "schedule",
    "start_session",
    "close",
    "cancel",
]


class TransitionInput(Strict):
    action: TransitionAction
    reason: Reason | None = None
    message: Reason | None = None
    outcome: LongText | None = None
    scheduled_at: datetime | None = None

    @field_validator("scheduled_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("must include a timezone, e.g. 2026-12-01T09:00:00+07:00")
        return value


class Answer(Strict):
    question: int = Field(ge=1)
    answer: Annotated[str, StringConstraints(strip_whitespace=True, max_length=20_000)]


class DecisionDraft(Strict):
    version: int = Field(ge=0, description="the draft version being edited; 0 starts a new draft")
    answers: list[Answer] = Field(max_length=20)
    treatment_direction: Annotated[
        str, StringConstraints(strip_whitespace=True, max_length=20_000)
    ] = ""
    transfer: bool = False
    follow_up: Annotated[str, StringConstraints(strip_whitespace=True, max_length=20_000)] = ""


class OpinionInput(Strict):
    version: int = Field(ge=1, description="the draft version the opinion is about")
    stance: Literal["concur", "dissent"]
    reason: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2_000)] = ""


class SignInput(Strict):
    version: int = Field(ge=1)
