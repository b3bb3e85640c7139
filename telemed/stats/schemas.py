"""Typed inputs of the statistics."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from telemed.schemas import QueryTime


class StatsQuery(BaseModel):
    """The window of request times the figures cover; both ends optional."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    since: QueryTime = Field(default=None, description="inclusive; UTC without a zone")
    until: QueryTime = Field(default=None, description="exclusive; UTC without a zone")
