"""Who is told of what: the one mapping from a committed case event to its notices.

Notices carry no clinical text beyond the case's title. The stored inbox, the live
``notify`` and the emails all come from the rows this mapping decides.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from telemed.cases.access import TRIAGE_ROLES
from telemed.cases.models import Case, Urgency
from telemed.cases.repository import CaseRepository
from telemed.shapes import Json, iso

# The case events that may cause notices (``notices_for`` says which do, and to whom).
NOTIFYING_EVENTS = frozenset(
    {
        "case.created",
        "case.info_requested",
        "case.scheduled",
        "case.accepted",
        "case.declined",
        "decision.signed",
        "case.cancelled",
        "case.continued_in_writing",
        "case.deadline_near",
        "case.deadline_passed",
    }
)
# Minutes before a scheduled session at which every participant is reminded.
REMINDER_MINUTES = (30, 5)


@dataclass(frozen=True)
class Notice:
    kind: str
    user_ids: list[int]
    data: Json = field(default_factory=dict)


async def session_participants(repo: CaseRepository, case: Case) -> list[int]:
    """Who takes part in the case's session: the requesting doctor and the council."""
    council = await repo.council_member_ids(case.council_id)
    return sorted({case.requested_by_id, *council})


async def notices_for(repo: CaseRepository, case: Case, event: Json) -> list[Notice]:
    """The notices one committed event of ``case`` causes (often none)."""
    kind, data = event["type"], event["data"]
    if kind not in NOTIFYING_EVENTS:
        return []
    if kind == "case.created":
        council = await repo.council_member_ids(case.council_id)
        notices = [Notice("case.requested", council)]
        if case.urgency is Urgency.EMERGENCY:
            notices.append(Notice("emergency", council))
        return notices
    if kind == "case.info_requested":
        return [Notice(kind, await repo.facility_doctor_ids(case.requesting_facility_id))]
    if kind in ("case.deadline_near", "case.deadline_passed"):
        # A reminder to the council before the deadline; once it has passed, an
        # escalation to those who triage (chair and secretary).
        roles = TRIAGE_ROLES if kind == "case.deadline_passed" else None
        council = await repo.council_member_ids(case.council_id, roles)
        return [
            Notice(kind, council, {"deadline": data.get("deadline"), "due_at": data.get("due_at")})
        ]
    if kind == "case.scheduled":
        people = await session_participants(repo, case)
        return [Notice(kind, people, {"scheduled_at": data.get("scheduled_at")})]
    notices = []
    if data.get("mode") == "written" and "answer_by" in data:
        # A written round opens (on accepting, or continuing in writing): each council
        # member is asked for an opinion by the round's deadline.
        council = await repo.council_member_ids(case.council_id)
        notices.append(Notice("opinion.requested", council, {"answer_by": data["answer_by"]}))
    if kind in ("case.accepted", "case.declined"):
        # The requesting doctor learns the answer.
        notices.append(Notice(kind, [case.requested_by_id]))
    if notices:
        return notices
    if kind == "decision.signed":
        return [Notice(kind, await session_participants(repo, case))]
    if kind == "case.cancelled" and data.get("from") == "scheduled":
        # The session will not take place: its participants' calendars hear of it.
        people = await session_participants(repo, case)
        return [Notice("session.cancelled", people, {"scheduled_at": iso(case.scheduled_at)})]
    return []
