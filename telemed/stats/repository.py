"""Queries for the statistics and the directory: plain rows, the arithmetic is the service's."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from telemed.accounts.models import CouncilMembership, Facility
from telemed.cases.models import (
    Case,
    CaseEvent,
    CaseStatus,
    ConsultationMode,
    Decision,
    DecisionStatus,
    Urgency,
)

# What counts as the council's answer: a note, a draft decision or an opinion by a member
# of the asked council (the requesting doctor's notes do not).
ANSWER_TYPES = ("note.created", "decision.drafted", "decision.opinion")


@dataclass(frozen=True)
class CaseFacts:
    """What the statistics need of one case: no clinical content."""

    id: int
    facility_id: int
    urgency: Urgency
    status: CaseStatus
    created_at: datetime
    decided_at: datetime | None
    mode: ConsultationMode | None = None


@dataclass(frozen=True)
class SignedOutcome:
    case_id: int
    decision_id: int
    transfer: bool


class StatsRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def cases(
        self, since: datetime | None = None, until: datetime | None = None
    ) -> list[CaseFacts]:
        query = select(
            Case.id,
            Case.requesting_facility_id,
            Case.urgency,
            Case.status,
            Case.created_at,
            Case.decided_at,
            Case.mode,
        ).order_by(Case.id)
        if since is not None:
            query = query.where(Case.created_at >= since)
        if until is not None:
            query = query.where(Case.created_at < until)
        rows = await self._session.execute(query)
        return [CaseFacts(*row) for row in rows.all()]

    async def signed_outcomes(
        self, since: datetime | None = None, until: datetime | None = None
    ) -> list[SignedOutcome]:
        """Every signed decision (amendments too) of the cases in the window, oldest first."""
        query = (
            select(Decision.case_id, Decision.id, Decision.transfer)
            .join(Case, Case.id == Decision.case_id)
            .where(Decision.status == DecisionStatus.SIGNED)
            .order_by(Decision.case_id, Decision.id)
        )
        if since is not None:
            query = query.where(Case.created_at >= since)
        if until is not None:
            query = query.where(Case.created_at < until)
        rows = await self._session.execute(query)
        return [SignedOutcome(*row) for row in rows.all()]

    async def first_answers(
        self, since: datetime | None = None, until: datetime | None = None
    ) -> dict[int, datetime]:
        """When the asked council first answered each case of the window (case id → time)."""
        query = (
            select(CaseEvent.case_id, func.min(CaseEvent.at))
            .join(Case, Case.id == CaseEvent.case_id)
            .join(
                CouncilMembership,
                (CouncilMembership.user_id == CaseEvent.actor_id)
                & (CouncilMembership.council_id == Case.council_id),
            )
            .where(CaseEvent.type.in_(ANSWER_TYPES))
            .group_by(CaseEvent.case_id)
        )
        if since is not None:
            query = query.where(Case.created_at >= since)
        if until is not None:
            query = query.where(Case.created_at < until)
        rows = await self._session.execute(query)
        return {case_id: at for case_id, at in rows.all()}

    async def facilities(self) -> Sequence[Facility]:
        return (await self._session.scalars(select(Facility).order_by(Facility.code))).all()
