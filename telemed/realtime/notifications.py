"""Notifications on the per-user channel, derived from committed case events.

They matter outside a case room (a new request for your council, an emergency, a question
back to the requesting doctor, a time set) and carry no clinical text beyond the title.
Only the process that committed the events sends them, through the Socket.IO manager, so
each user receives each notification once whichever process they are connected to.
"""

from __future__ import annotations

import logging
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from telemed.cases.access import TRIAGE_ROLES
from telemed.cases.models import Case
from telemed.cases.repository import CaseRepository
from telemed.shapes import Json

log = logging.getLogger(__name__)

NOTIFIED_TYPES = frozenset(
    {
        "case.created",
        "case.info_requested",
        "case.scheduled",
        "case.accepted",
        "case.declined",
        "case.deadline_near",
        "case.deadline_passed",
    }
)


class Broadcaster(Protocol):
    async def broadcast(
        self, room: str, event: str, data: Json, skip_sid: str | None = None
    ) -> None:
        """Emit to a room on every process."""
        ...


def user_room(user_id: int) -> str:
    return f"user:{user_id}"


class Notifier:
    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], broadcaster: Broadcaster
    ) -> None:
        self._sessionmaker = sessionmaker
        self._broadcaster = broadcaster

    async def notify(self, events: list[Json]) -> None:
        wanted = [e for e in events if e["type"] in NOTIFIED_TYPES]
        if not wanted:
            return
        sends: list[tuple[list[int], Json]] = []
        async with self._sessionmaker() as db, db.begin():
            repo = CaseRepository(db)
            cases = await repo.cases_by_ids(sorted({e["case_id"] for e in wanted}))
            for event in wanted:
                case = cases.get(event["case_id"])
                if case is not None:
                    sends.extend(await self._for_event(repo, case, event))
        for user_ids, payload in sends:
            for user_id in user_ids:
                await self._broadcaster.broadcast(user_room(user_id), "notify", payload)

    async def _for_event(
        self, repo: CaseRepository, case: Case, event: Json
    ) -> list[tuple[list[int], Json]]:
        base: Json = {
            "case_id": case.id,
            "urgency": case.urgency.value,
            "title": case.title,
            "seq": event["seq"],
            "at": event["at"],
        }
        kind = event["type"]
        if kind == "case.created":
            council = await repo.council_member_ids(case.council_id)
            sends = [(council, {**base, "kind": "case.requested"})]
            if case.urgency.value == "emergency":
                sends.append((council, {**base, "kind": "emergency"}))
            return sends
        if kind == "case.info_requested":
            doctors = await repo.facility_doctor_ids(case.requesting_facility_id)
            return [(doctors, {**base, "kind": kind})]
        if kind in ("case.deadline_near", "case.deadline_passed"):
            # A reminder to the council before the deadline; once it has passed, an
            # escalation to those who triage (chair and secretary).
            roles = TRIAGE_ROLES if kind == "case.deadline_passed" else None
            council = await repo.council_member_ids(case.council_id, roles)
            data = event["data"]
            extra = {"deadline": data.get("deadline"), "due_at": data.get("due_at")}
            return [(council, {**base, "kind": kind, **extra})]
        if kind == "case.scheduled":
            council = await repo.council_member_ids(case.council_id)
            people = sorted({case.requested_by_id, *council})
            scheduled_at = event["data"].get("scheduled_at")
            return [(people, {**base, "kind": kind, "scheduled_at": scheduled_at})]
        # case.accepted, case.declined: the requesting doctor learns the answer.
        return [([case.requested_by_id], {**base, "kind": kind})]
