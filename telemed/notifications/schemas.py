"""Typed inputs of the inbox."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from telemed.schemas import RecordId


class InboxQuery(BaseModel):
    """A page of the inbox, newest first: those older than ``before`` (the previous page's
    ``next``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    before: RecordId | None = Field(default=None, description="the previous page's `next`")
    limit: int = Field(default=20, ge=1, le=100)
