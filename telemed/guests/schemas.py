"""Typed bodies of the guest endpoints."""

from __future__ import annotations

from pydantic import Field

from telemed.schemas import Strict


class InviteInput(Strict):
    name: str = Field(min_length=1, max_length=200)
    specialty: str = Field(default="", max_length=100)
    # Seconds the link stays valid: from a minute to a week.
    expires_in: int = Field(default=24 * 3600, ge=60, le=7 * 24 * 3600)


class RedeemInput(Strict):
    token: str = Field(min_length=16, max_length=128)
