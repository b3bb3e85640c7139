"""Input types shared by several domains' schemas."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator


def _empty_is_absent(value: object) -> object:
    # ``?since=`` from a form means "no bound", not an invalid time.
    return None if value == "" else value


def _utc(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


# An optional ISO 8601 time in a query; without a zone it is UTC.
QueryTime = Annotated[datetime | None, BeforeValidator(_empty_is_absent), AfterValidator(_utc)]
