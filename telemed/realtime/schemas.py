"""Typed payloads of the realtime messages a client sends."""

from __future__ import annotations

from telemed.cases.schemas import ClientId, LongText, QuestionNumber
from telemed.schemas import RecordId, Seq, Strict


class JoinInput(Strict):
    case_id: RecordId
    after_seq: Seq = 0
    # Set by a client that joins again because a case:head (or a gap) showed it was behind.
    resync: bool = False


class LeaveInput(Strict):
    case_id: RecordId


class NoteInput(Strict):
    case_id: RecordId
    body: LongText
    client_id: ClientId | None = None
    question: QuestionNumber | None = None
    supersedes: RecordId | None = None
