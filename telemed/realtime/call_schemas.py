"""Typed payloads of the call messages (``call:*``, ``rtc:*``, ``rec:*``)."""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from telemed.cases.schemas import Strict
from telemed.schemas import RecordId

# Peer ids are opaque tokens (secrets.token_urlsafe(12)) or the reserved "recorder".
PeerId = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_-]+$")
OptionalPeerId = Field(default=None, min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_-]+$")


class CaseOnly(Strict):
    case_id: RecordId


class JoinCallInput(Strict):
    case_id: RecordId
    # The peer id this user had in the call before its connection dropped: that place is
    # given up at once instead of lingering until the server notices the dead connection.
    replaces: str | None = Field(
        default=None, min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_-]+$"
    )


class AdmitInput(Strict):
    case_id: RecordId
    peer_id: str = PeerId


class SignalInput(Strict):
    case_id: RecordId
    to: str = PeerId
    data: dict[str, Any]

    @model_validator(mode="after")
    def _one_kind(self) -> SignalInput:
        kinds = [key for key in ("description", "candidate") if key in self.data]
        if len(kinds) != 1 or len(self.data) != 1 or not isinstance(self.data[kinds[0]], dict):
            raise ValueError("data holds exactly one of description or candidate (an object)")
        return self

    @property
    def kind(self) -> str:
        return "description" if "description" in self.data else "candidate"


class ModeInput(Strict):
    case_id: RecordId
    audio_only: bool


class ConsentInput(Strict):
    case_id: RecordId
    consent: bool


class StatsInput(Strict):
    case_id: RecordId
    rtt_ms: float | None = Field(default=None, ge=0, le=600_000)
    packet_loss: float | None = Field(default=None, ge=0, le=1)
    bitrate_kbps: float | None = Field(default=None, ge=0, le=1_000_000)
    fps: float | None = Field(default=None, ge=0, le=1000)
