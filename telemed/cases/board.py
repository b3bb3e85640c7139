"""The board: a case as every participant sees it, in JSON.

``board_json`` builds it from the tables; ``replay`` builds the same thing from the event
log alone (tests prove the two agree, and the browser applies events the same way).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence

from telemed.accounts.models import Council, Facility, User
from telemed.cases.models import (
    Attachment,
    Case,
    CaseQuestion,
    Decision,
    DecisionOpinion,
    Note,
)
from telemed.shapes import Json, actor_json, iso


def case_core_json(
    case: Case,
    facility: Facility,
    council: Council,
    requester: User,
    questions: Sequence[CaseQuestion],
) -> Json:
    """The case's own fields, as stored in its ``case.created`` event."""
    return {
        "id": case.id,
        "title": case.title,
        "status": case.status.value,
        "urgency": case.urgency.value,
        "specialty": case.specialty,
        "patient": {
            "code": case.patient_code,
            "sex": case.patient_sex.value,
            "birth_year": case.patient_birth_year,
        },
        "summary": case.summary,
        "questions": [{"number": q.number, "text": q.text} for q in questions],
        "requesting_facility": {"id": facility.id, "code": facility.code, "name": facility.name},
        "requested_by": actor_json(requester),
        "council": {"id": council.id, "code": council.code, "name": council.name},
        "scheduled_at": iso(case.scheduled_at),
        "mode": case.mode.value if case.mode else None,
        "answer_by": iso(case.answer_by),
        "round_closed_at": iso(case.round_closed_at),
        "outcome": case.outcome,
        "created_at": iso(case.created_at),
    }


def note_json(note: Note, author: Json | None) -> Json:
    """The note as the board shows it; ``author`` is the author's actor JSON."""
    return {
        "id": note.id,
        "seq": note.seq,
        "author": author,
        "created_at": iso(note.created_at),
        "body": note.body,
        "body_html": note.body_html,
        "question": note.question,
        "supersedes": note.supersedes_id,
    }


def attachment_json(attachment: Attachment, uploader: User | None) -> Json:
    return {
        "id": attachment.id,
        "seq": attachment.seq,
        "filename": attachment.filename,
        "media_type": attachment.media_type,
        "kind": attachment.kind.value,
        "size": attachment.size,
        "sha256": attachment.sha256,
        "description": attachment.description,
        "has_preview": attachment.preview_sha256 is not None,
        "uploaded_by": actor_json(uploader),
        "created_at": iso(attachment.created_at),
    }


def opinion_json(opinion: DecisionOpinion, user: User | None) -> Json:
    return {
        "user": actor_json(user),
        "stance": opinion.stance.value,
        "reason": opinion.reason,
        "at": iso(opinion.at),
    }


def decision_json(
    decision: Decision, opinions: Iterable[DecisionOpinion], users: Mapping[int, User]
) -> Json:
    return {
        "id": decision.id,
        "status": decision.status.value,
        "version": decision.version,
        "answers": decision.answers,
        "treatment_direction": decision.treatment_direction,
        "transfer": decision.transfer,
        "follow_up": decision.follow_up,
        "amends": decision.amends_id,
        "drafted_by": actor_json(users.get(decision.drafted_by_id)),
        "signed_by": actor_json(users.get(decision.signed_by_id))
        if decision.signed_by_id
        else None,
        "signed_at": iso(decision.signed_at),
        "content_sha256": decision.content_sha256,
        "opinions": [opinion_json(o, users.get(o.user_id)) for o in opinions],
    }


def metadata_json(case: Case, facility: Facility, council: Council) -> Json:
    """What an auditor who is not a participant may see: no clinical content."""
    return {
        "id": case.id,
        "status": case.status.value,
        "urgency": case.urgency.value,
        "specialty": case.specialty,
        "requesting_facility": {"id": facility.id, "code": facility.code, "name": facility.name},
        "council": {"id": council.id, "code": council.code, "name": council.name},
        "scheduled_at": iso(case.scheduled_at),
        "mode": case.mode.value if case.mode else None,
        "created_at": iso(case.created_at),
        "updated_at": iso(case.updated_at),
        "last_seq": case.last_seq,
        "clinical": False,
    }


# The notes a board carries: the latest ones, with a cursor for earlier pages (a case of
# 10,000 notes took 388 ms to load and serialize whole).
NOTES_PAGE = 50


def mark_superseded(notes: list[Json], corrections: Mapping[int, int]) -> None:
    """Each note's ``superseded_by``: the id of the note that corrects it, if any."""
    for note in notes:
        note["superseded_by"] = corrections.get(note["id"])


def assemble(
    core: Json,
    *,
    notes: list[Json],
    notes_before: int | None,
    attachments: list[Json],
    decisions: list[Json],
    participants: list[Json],
    recording: bool,
    updated_at: str | None,
    last_seq: int,
) -> Json:
    """The board; ``notes_before`` is the ``before`` that pages to earlier notes (None when
    ``notes`` are all of them); ``recording``: the call's recording was started and not yet
    stopped, as the log says."""
    return {
        **core,
        "updated_at": updated_at,
        "last_seq": last_seq,
        "clinical": True,
        "recording": recording,
        "notes": notes,
        "notes_before": notes_before,
        "attachments": attachments,
        "decisions": decisions,
        "participants": participants,
    }


# The events that start and stop the call's recording (the board says whether it runs).
RECORDING_EVENTS = ("recording.started", "recording.stopped")

# The case's own fields a transition's event may carry (the new value) beside its status.
CORE_FIELDS_OF_TRANSITIONS = ("scheduled_at", "outcome", "mode", "answer_by", "round_closed_at")


def replay(events: Sequence[Json], notes_limit: int | None = NOTES_PAGE) -> Json:
    """The board from the log alone: fold every event, in seq order, into the state; with
    the latest ``notes_limit`` notes, as the tables' board has them (None: every note)."""
    core: Json = {}
    notes: list[Json] = []
    attachments: list[Json] = []
    decisions: dict[int, Json] = {}
    participants: dict[int, Json] = {}
    recording = False
    for event in events:
        data = event["data"]
        kind = event["type"]
        if event["actor"] is not None:
            participants.setdefault(event["actor"]["id"], event["actor"])
        if kind == "case.created":
            core = copy.deepcopy(data["case"])
        elif kind == "case.identity_updated":
            pass  # the identity is not on the board (telemed/cases/identity.py)
        elif kind in ("case.deadline_near", "case.deadline_passed"):
            pass  # reminders: they change no status (telemed/cases/deadlines.py)
        elif kind.startswith("case."):
            core["status"] = data["to"]
            for field in CORE_FIELDS_OF_TRANSITIONS:
                if field in data:
                    core[field] = data[field]
        elif kind in RECORDING_EVENTS:
            recording = kind == "recording.started"
        elif kind == "note.created":
            notes.append(copy.deepcopy(data["note"]))
        elif kind == "attachment.added":
            attachments.append(copy.deepcopy(data["attachment"]))
        elif kind in ("decision.drafted", "decision.signed"):
            decisions[data["decision"]["id"]] = copy.deepcopy(data["decision"])
        elif kind == "decision.opinion":
            target = decisions[data["decision_id"]]
            mine = data["opinion"]["user"]["id"]
            target["opinions"] = [o for o in target["opinions"] if o["user"]["id"] != mine]
            target["opinions"].append(copy.deepcopy(data["opinion"]))
            target["opinions"].sort(key=lambda o: (o["at"], o["user"]["id"]))
    last = events[-1] if events else None
    mark_superseded(notes, {n["supersedes"]: n["id"] for n in notes if n["supersedes"]})
    shown = notes if notes_limit is None else notes[max(0, len(notes) - notes_limit) :]
    return assemble(
        core,
        notes=shown,
        notes_before=shown[0]["seq"] if len(shown) < len(notes) else None,
        attachments=attachments,
        decisions=[decisions[key] for key in sorted(decisions)],
        participants=list(participants.values()),
        recording=recording,
        updated_at=last["at"] if last else None,
        last_seq=last["seq"] if last else 0,
    )
