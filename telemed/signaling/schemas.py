"""Typed payloads of the call messages (``call:*``, ``rtc:*``, ``rec:*``)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from telemed.schemas import RecordId, Strict

# Peer ids are opaque tokens (secrets.token_urlsafe(12)) or the reserved "recorder".
PeerId = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_-]+$")


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


# WebRTC's own dictionaries, bounded: a browser's RTCSessionDescription.toJSON() and
# RTCIceCandidate.toJSON(). Anything else (NaN, nested objects, huge strings) is refused
# here instead of being relayed to another participant's browser.
MAX_SDP_CHARS = 20 * 1024


class SessionDescriptionInit(Strict):
    type: Literal["offer", "answer", "pranswer", "rollback"]
    sdp: str = Field(default="", max_length=MAX_SDP_CHARS)


class IceCandidateInit(Strict):
    # An ICE candidate line (RFC 8839) is well under 1 KiB; "" ends the candidates.
    candidate: str = Field(default="", max_length=1024)
    sdpMid: str | None = Field(default=None, max_length=64)
    sdpMLineIndex: int | None = Field(default=None, ge=0, le=65535, strict=True)
    usernameFragment: str | None = Field(default=None, max_length=256)


class SignalData(Strict):
    description: SessionDescriptionInit | None = None
    candidate: IceCandidateInit | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> SignalData:
        if (self.description is None) == (self.candidate is None):
            raise ValueError("data holds exactly one of description or candidate (an object)")
        return self

    def relayed(self) -> dict[str, Any]:
        """What the other peer receives: the fields the sender set, and nothing else."""
        return self.model_dump(exclude_unset=True)


class SignalInput(Strict):
    case_id: RecordId
    # A peer of the call, the recorder, or one of the SFU's two virtual peers.
    to: str = Field(
        min_length=1, max_length=32, pattern=r"^([A-Za-z0-9_-]+|sfu:publish|sfu:subscribe)$"
    )
    data: SignalData

    @property
    def kind(self) -> str:
        return "description" if self.data.description is not None else "candidate"


class ModeInput(Strict):
    case_id: RecordId
    audio_only: bool
    # Sharing the screen (imaging): the others show that tile large.
    screen: bool = False


class ConsentInput(Strict):
    case_id: RecordId
    consent: bool


class StatsInput(Strict):
    case_id: RecordId
    rtt_ms: float | None = Field(default=None, ge=0, le=600_000)
    packet_loss: float | None = Field(default=None, ge=0, le=1)
    bitrate_kbps: float | None = Field(default=None, ge=0, le=1_000_000)
    fps: float | None = Field(default=None, ge=0, le=1000)
