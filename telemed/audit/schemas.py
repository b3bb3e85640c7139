"""Typed inputs for reviewing and verifying the audit trail."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from telemed.schemas import MAX_BIGINT, QueryTime, RecordId

Hex64 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]


class AuditFilters(BaseModel):
    """What the review and the exports select. Times are ISO 8601; without a zone, UTC."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    actor: Name | None = Field(default=None, description="username")
    case_id: RecordId | None = None
    action: Name | None = None
    outcome: Literal["success", "denied", "error"] | None = None
    since: QueryTime = Field(default=None, description="inclusive")
    until: QueryTime = Field(default=None, description="exclusive")

    @field_validator("*", mode="before")
    @classmethod
    def _empty_is_absent(cls, value: object) -> object:
        # ``?actor=&case_id=`` from a form means "no filter", not an invalid value.
        return None if value == "" else value


class AuditQuery(AuditFilters):
    # The opaque cursor is the seq of the last item of the previous page: at most 18 digits,
    # so that it always fits the seq's BIGINT.
    cursor: Annotated[str, StringConstraints(pattern=r"^[1-9][0-9]{0,17}$")] | None = None
    limit: int = Field(default=50, ge=1, le=500)


class CheckpointInput(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    seq: int = Field(ge=1, le=MAX_BIGINT)
    hash: Hex64
    at: Annotated[str, StringConstraints(max_length=40)]
    public_key: Annotated[str, StringConstraints(max_length=200)]
    signature: Annotated[str, StringConstraints(max_length=200)]


class VerifyInput(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    checkpoint: CheckpointInput | None = None
