"""Typed inputs for case actions, shared by the HTTP and Socket.IO transports."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, StringConstraints, model_validator

from telemed.accounts.schemas import Code
from telemed.cases.models import CaseStatus, Sex, Urgency
from telemed.schemas import MAX_INT, Instant, QueryTime, RecordId, Seq, Strict

ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
LongText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20_000)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2_000)]
ClientId = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")
]
MAX_QUESTIONS = 20
QuestionNumber = Annotated[int, Field(ge=1, le=MAX_QUESTIONS)]
# A draft's version: 1, 2, ... as it is edited.
Version = Annotated[int, Field(ge=1, le=MAX_INT)]


def _code(max_length: int) -> StringConstraints:
    return StringConstraints(
        strip_whitespace=True, min_length=1, max_length=max_length, pattern=r"^[\w./-]+$"
    )


class PatientIdentity(Strict):
    """Who the patient is; every field optional. Stored sealed, shown to participants only."""

    full_name: ShortText | None = None
    date_of_birth: date | None = Field(default=None, ge=date(1900, 1, 1))
    national_id: Annotated[str, _code(20)] | None = Field(
        default=None, description="citizen identity card number (CCCD)"
    )
    health_insurance_number: Annotated[str, _code(32)] | None = None
    hospital_record_number: Annotated[str, _code(64)] | None = Field(
        default=None, description="the requesting hospital's own record number"
    )

    def fields(self) -> dict[str, str]:
        """The fields that are set, as text (the sealed form)."""
        return {
            name: value.isoformat() if isinstance(value, date) else value
            for name, value in self.model_dump().items()
            if value is not None
        }


IDENTITY_FIELDS = tuple(PatientIdentity.model_fields)


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
    questions: list[LongText] = Field(min_length=1, max_length=MAX_QUESTIONS)
    specialty: ShortText
    urgency: Urgency
    identity: PatientIdentity | None = None


# The orders of the case list: the queue (urgency, then longest waiting), or by request date.
CaseSort = Literal["urgency", "newest", "oldest"]


def _blank_is_absent(value: object) -> object:
    # An empty search box means "no words", not a search for nothing.
    return None if isinstance(value, str) and not value.strip() else value


class CaseListQuery(Strict):
    status: CaseStatus | None = None
    urgency: Urgency | None = None
    cursor: str | None = Field(default=None, max_length=200)
    limit: int = Field(default=50, ge=1, le=200)
    # Search (docs/api.md): any of these makes the request a `case.search`.
    q: Annotated[str | None, BeforeValidator(_blank_is_absent)] = Field(
        default=None,
        max_length=200,
        description="words of the patient code, title or summary (participants only); "
        "each word matches the start of a word, diacritics ignored",
    )
    council: Code | None = Field(default=None, description="code of the council asked")
    facility: Code | None = Field(default=None, description="code of the requesting facility")
    from_: QueryTime = Field(default=None, alias="from", description="requested at or after")
    to: QueryTime = Field(default=None, description="requested before (exclusive)")
    sort: CaseSort = "urgency"

    @property
    def searches(self) -> bool:
        """Whether the request is a search rather than a plain look at the list."""
        fields = (self.q, self.council, self.facility, self.from_, self.to)
        return any(field is not None for field in fields)


class EventsQuery(Strict):
    after: Seq = 0
    before: Seq | None = Field(
        default=None, description="the last `limit` events before this seq (instead of after)"
    )
    limit: int = Field(default=1000, ge=1, le=5000)

    @model_validator(mode="after")
    def _one_direction(self) -> EventsQuery:
        if self.before is not None and self.after:
            raise ValueError("give either after or before, not both")
        return self


class NotesQuery(Strict):
    before: Seq | None = Field(
        default=None, description="notes before this seq: the board's or a page's notes_before"
    )
    limit: int = Field(default=50, ge=1, le=500)


class NewNote(Strict):
    body: LongText
    question: QuestionNumber | None = None
    supersedes: RecordId | None = None
    client_id: ClientId | None = None


TransitionAction = Literal[
    "accept",
    "accept_written",
    "continue_in_writing",
    "close_round",
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
    scheduled_at: Instant | None = None
    answer_by: Instant | None = Field(
        default=None, description="a written consultation's deadline for the members' opinions"
    )


class Answer(Strict):
    question: QuestionNumber
    answer: Annotated[str, StringConstraints(strip_whitespace=True, max_length=20_000)]


class DecisionDraft(Strict):
    version: int = Field(
        ge=0, le=MAX_INT, description="the draft version being edited; 0 starts a new draft"
    )
    answers: list[Answer] = Field(max_length=MAX_QUESTIONS)
    treatment_direction: Annotated[
        str, StringConstraints(strip_whitespace=True, max_length=20_000)
    ] = ""
    transfer: bool = False
    follow_up: Annotated[str, StringConstraints(strip_whitespace=True, max_length=20_000)] = ""


class OpinionInput(Strict):
    version: Version = Field(description="the draft version the opinion is about")
    stance: Literal["concur", "dissent"]
    reason: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2_000)] = ""


class SignInput(Strict):
    version: Version


# Where a page of the case list ends: (urgency rank, created_at, case id), as the service
# writes it into the opaque cursor; read back through the same bounds as any input.
# A cursor of another order than the queue's also names that order.
ListPosition = (
    tuple[Annotated[int, Field(ge=0, le=MAX_INT)], Instant, RecordId]
    | tuple[Annotated[int, Field(ge=0, le=MAX_INT)], Instant, RecordId, CaseSort]
)
