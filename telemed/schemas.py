"""Input types shared by several domains' schemas: the bounds of every id, number and time.

A number or a time the database cannot hold must be refused as input, never reach a query:
beyond these bounds the drivers raise (PostgreSQL's INTEGER ends at 2**31 - 1, SQLite's at
2**63 - 1; a datetime ends at year 9999, so a far date can overflow on conversion to UTC).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
)

# Every id and counter column is an INTEGER: 32 bits on PostgreSQL, the narrower backend.
MAX_INT = 2**31 - 1
# The audit trail's seq is a BIGINT.
MAX_BIGINT = 2**63 - 1
# What an id out of range stands for once parsed: no row has it (ids count from 1), so it is
# looked up, refused and audited exactly like an id in range that names nothing.
NO_RECORD = 0

# The one id type of every body, query and path: a row id (cases, notes, attachments...).
RecordId = Annotated[int, Field(ge=1, le=MAX_INT)]
# A position in a case's event log (0: before the first event).
Seq = Annotated[int, Field(ge=0, le=MAX_INT)]

# Times are stored as UTC; clinical and audit dates fall well within these years.
MIN_YEAR, MAX_YEAR = 1900, 2200
_TIME_RANGE = f"must lie between the years {MIN_YEAR} and {MAX_YEAR} (in UTC)"


def _within_range(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("must include a timezone, e.g. 2026-12-01T09:00:00+07:00")
    try:
        year = value.astimezone(UTC).year
    except OverflowError:
        raise ValueError(_TIME_RANGE) from None
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise ValueError(_TIME_RANGE)
    return value


def _empty_is_absent(value: object) -> object:
    # ``?since=`` from a form means "no bound", not an invalid time.
    return None if value == "" else value


def _naive_is_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


# The one time type: aware, and within the years above once converted to UTC.
Instant = Annotated[datetime, AfterValidator(_within_range)]
# An optional Instant in a query, where a time without a zone is UTC.
QueryTime = Annotated[
    Annotated[datetime, AfterValidator(_naive_is_utc), AfterValidator(_within_range)] | None,
    BeforeValidator(_empty_is_absent),
]

_RECORD_ID: TypeAdapter[int] = TypeAdapter(RecordId)


def record_id(text: str) -> int:
    """The id a path names, or NO_RECORD when it is out of range (no row can have it)."""
    try:
        return _RECORD_ID.validate_python(text)
    except ValidationError:
        return NO_RECORD


class Strict(BaseModel):
    """Every input body: a field the server does not know is refused, never ignored."""

    model_config = ConfigDict(extra="forbid")
