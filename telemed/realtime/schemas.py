"""Typed payloads of the realtime messages a client sends."""

from __future__ import annotations

from pydantic import Field

from telemed.cases.schemas import ClientId, LongText, Strict

CaseId = Field(ge=1, le=2**31 - 1)


class JoinInput(Strict):
    case_id: int = CaseId
    after_seq: int = Field(default=0, ge=0, le=2**31 - 1)
    # Set by a client that joins again because a case:head (or a gap) showed it was behind.
    resync: bool = False


class LeaveInput(Strict):
    case_id: int = CaseId


class NoteInput(Strict):
    case_id: int = CaseId
    body: LongText
    client_id: ClientId | None = None
    question: int | None = Field(default=None, ge=1, le=100)
    supersedes: int | None = Field(default=None, ge=1, le=2**31 - 1)
