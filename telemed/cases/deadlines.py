"""Deadlines: a target time per urgency for the council's first answer and for its decision,
and the job that writes ``case.deadline_near`` and ``case.deadline_passed`` once each.

- The **answer** is due ``target`` after the request, until the council first answers it
  (accepts, declines or asks a question back: ``cases.first_answered_at``).
- The **decision** is due ``target`` after that first answer, until a decision is signed.

``DeadlineService.tick(now)`` writes, through the case log with the system as actor,
``case.deadline_near`` once ``near_fraction`` of the target is left and
``case.deadline_passed`` once the time is up, each once per case and deadline: the check
is repeated under the case's lock, so two processes ticking at once write it once. A
deadline already passed when first seen gets its ``passed`` event only. The notifications
turn these events into reminders (near) and an escalation to the chair and secretary
(passed): ``telemed/realtime/notifications.py``.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from telemed.accounts.principal import Principal, system_actor
from telemed.cases.log import CaseLog
from telemed.cases.models import Case, CaseEvent, CaseStatus, Urgency
from telemed.clock import Clock
from telemed.errors import NotFound
from telemed.shapes import Json, iso

log = logging.getLogger(__name__)

S = CaseStatus
NEAR, PASSED = "case.deadline_near", "case.deadline_passed"
NOTICE_TYPES = (NEAR, PASSED)
# The council owes a first answer, then a decision, while the case is in these statuses.
ANSWER_STATUSES = frozenset({S.REQUESTED})
DECISION_STATUSES = frozenset(
    {S.REQUESTED, S.INFO_REQUESTED, S.ACCEPTED, S.SCHEDULED, S.IN_SESSION}
)


def _hours(emergency: float, urgent: float, routine: float) -> dict[Urgency, timedelta]:
    return {
        Urgency.EMERGENCY: timedelta(hours=emergency),
        Urgency.URGENT: timedelta(hours=urgent),
        Urgency.ROUTINE: timedelta(hours=routine),
    }


@dataclass(frozen=True)
class DeadlinePolicy:
    targets: Mapping[Urgency, timedelta] = field(default_factory=lambda: _hours(1, 24, 72))
    # The reminder goes out when this share of the target is left (1 h: 15 min before).
    near_fraction: float = 0.25

    @classmethod
    def in_hours(
        cls, emergency: float, urgent: float, routine: float, near_fraction: float
    ) -> DeadlinePolicy:
        return cls(_hours(emergency, urgent, routine), near_fraction)


@dataclass(frozen=True)
class Deadline:
    kind: str  # "answer" or "decision"
    due_at: datetime
    near_at: datetime


def deadlines_of(case: Case, policy: DeadlinePolicy) -> list[Deadline]:
    """The deadlines the case runs against now (none once decided, declined, closed)."""
    target = policy.targets[case.urgency]
    near = target * (1 - policy.near_fraction)
    found = []
    if case.first_answered_at is None and case.status in ANSWER_STATUSES:
        found.append(Deadline("answer", case.created_at + target, case.created_at + near))
    elif (
        case.first_answered_at is not None
        and case.decided_at is None
        and case.status in DECISION_STATUSES
    ):
        start = case.first_answered_at
        found.append(Deadline("decision", start + target, start + near))
    return found


def deadlines_json(case: Case, policy: DeadlinePolicy) -> Json:
    """What the API shows of a case's deadlines: each due time, or null when none runs."""
    due = {d.kind: d.due_at for d in deadlines_of(case, policy)}
    return {
        "answer_due_at": iso(due.get("answer")),
        "decision_due_at": iso(due.get("decision")),
        "first_answered_at": iso(case.first_answered_at),
    }


def notice_due(deadline: Deadline, now: datetime) -> str | None:
    if now >= deadline.due_at:
        return PASSED
    if now >= deadline.near_at:
        return NEAR
    return None


def _any_case(_: Principal, case: Case | None) -> Case:
    if case is None:
        raise NotFound("No such case.")
    return case


class DeadlineService:
    def __init__(
        self,
        case_log: CaseLog,
        sessionmaker: async_sessionmaker[AsyncSession],
        clock: Clock,
        policy: DeadlinePolicy,
    ) -> None:
        self._log = case_log
        self._sessionmaker = sessionmaker
        self._clock = clock
        self._policy = policy

    async def tick(self, now: datetime | None = None) -> int:
        """Write the deadline events due at ``now`` (the clock's by default) that are not
        written yet; how many were written."""
        now = now or self._clock.now()
        async with self._sessionmaker() as db, db.begin():
            cases = await _running_cases(db)
            written = await _notices(db, [c.id for c in cases])
        wanted = [
            (case.id, deadline.kind, notice)
            for case in cases
            for deadline in deadlines_of(case, self._policy)
            if (notice := notice_due(deadline, now)) is not None
            and (case.id, deadline.kind, notice) not in written
        ]
        count = 0
        for case_id, kind, notice in wanted:
            count += await self._write(case_id, kind, notice, now)
        return count

    async def _write(self, case_id: int, kind: str, notice: str, now: datetime) -> int:
        actor = system_actor(secrets.token_hex(16))
        async with self._log.change(actor, "case.deadline", case_id, rule=_any_case) as change:
            case = change.case
            # Again under the case's lock: another process may have written it meanwhile,
            # or the case moved on.
            current = {d.kind: d for d in deadlines_of(case, self._policy)}
            deadline = current.get(kind)
            if deadline is None or notice_due(deadline, now) != notice:
                return 0
            if (case.id, kind, notice) in await _notices(change.repo.session, [case.id]):
                return 0
            change.unit.entry.object_id = kind
            data = {"deadline": kind, "due_at": iso(deadline.due_at)}
            if notice == NEAR:
                await change.append("case.deadline_near", data)
            else:
                await change.append("case.deadline_passed", data)
        return 1


async def _running_cases(db: AsyncSession) -> Sequence[Case]:
    rows = await db.scalars(
        select(Case).where(Case.status.in_(DECISION_STATUSES), Case.decided_at.is_(None))
    )
    return rows.all()


async def _notices(db: AsyncSession, case_ids: list[int]) -> set[tuple[int, str, str]]:
    """(case, deadline kind, event type) of the deadline events already written."""
    if not case_ids:
        return set()
    rows = await db.execute(
        select(CaseEvent.case_id, CaseEvent.type, CaseEvent.data).where(
            CaseEvent.case_id.in_(case_ids), CaseEvent.type.in_(NOTICE_TYPES)
        )
    )
    return {(case_id, data["deadline"], type_) for case_id, type_, data in rows}
