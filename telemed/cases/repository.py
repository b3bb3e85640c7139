"""Queries for cases, their event log and the tables the events keep in shape."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from telemed.accounts.models import Council, CouncilMembership, Facility, User, UserRole
from telemed.cases.models import (
    Attachment,
    Case,
    CaseEvent,
    CaseIdentity,
    CaseQuestion,
    CaseStatus,
    Decision,
    DecisionOpinion,
    Note,
    Urgency,
)


class CaseRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    @property
    def session(self) -> AsyncSession:
        return self._session

    def add(self, entity: object) -> None:
        self._session.add(entity)

    async def flush(self) -> None:
        await self._session.flush()

    async def get(self, case_id: int, *, for_update: bool = False) -> Case | None:
        """The case; ``for_update`` locks its row until commit (writers of one case queue)."""
        return await self._session.get(
            Case, case_id, with_for_update=for_update, populate_existing=for_update
        )

    async def append_event(
        self, case: Case, type_: str, actor_id: int | None, at: datetime, data: dict[str, Any]
    ) -> CaseEvent:
        """Append the next event of the case's log in the current transaction.

        The UPDATE ... RETURNING takes the case row's write lock until commit, so
        concurrent writers on one case get consecutive seqs; a rollback takes the seq back
        with the event, so the log never has gaps.
        """
        seq = (
            await self._session.execute(
                update(Case)
                .where(Case.id == case.id)
                .values(last_seq=Case.last_seq + 1, updated_at=at)
                .returning(Case.last_seq)
            )
        ).scalar_one()
        case.last_seq, case.updated_at = seq, at
        event = CaseEvent(case_id=case.id, seq=seq, type=type_, actor_id=actor_id, at=at, data=data)
        self._session.add(event)
        await self._session.flush()
        return event

    async def identity(self, case_id: int) -> CaseIdentity | None:
        return await self._session.get(CaseIdentity, case_id)

    async def remove(self, entity: object) -> None:
        await self._session.delete(entity)

    async def questions(self, case_id: int) -> Sequence[CaseQuestion]:
        rows = await self._session.scalars(
            select(CaseQuestion)
            .where(CaseQuestion.case_id == case_id)
            .order_by(CaseQuestion.number)
        )
        return rows.all()

    async def events_after(self, case_id: int, after: int, limit: int) -> Sequence[CaseEvent]:
        rows = await self._session.scalars(
            select(CaseEvent)
            .where(CaseEvent.case_id == case_id, CaseEvent.seq > after)
            .order_by(CaseEvent.seq)
            .limit(limit)
        )
        return rows.all()

    async def notes(self, case_id: int) -> Sequence[Note]:
        rows = await self._session.scalars(
            select(Note).where(Note.case_id == case_id).order_by(Note.seq)
        )
        return rows.all()

    async def note(self, case_id: int, note_id: int) -> Note | None:
        return await self._session.scalar(
            select(Note).where(Note.case_id == case_id, Note.id == note_id)
        )

    async def note_by_client_id(self, case_id: int, author_id: int, client_id: str) -> Note | None:
        return await self._session.scalar(
            select(Note).where(
                Note.case_id == case_id, Note.author_id == author_id, Note.client_id == client_id
            )
        )

    async def attachments(self, case_id: int) -> Sequence[Attachment]:
        rows = await self._session.scalars(
            select(Attachment).where(Attachment.case_id == case_id).order_by(Attachment.seq)
        )
        return rows.all()

    async def attachment(self, case_id: int, attachment_id: int) -> Attachment | None:
        return await self._session.scalar(
            select(Attachment).where(Attachment.case_id == case_id, Attachment.id == attachment_id)
        )

    async def decisions(self, case_id: int) -> Sequence[Decision]:
        rows = await self._session.scalars(
            select(Decision).where(Decision.case_id == case_id).order_by(Decision.id)
        )
        return rows.all()

    async def opinions(self, decision_ids: Sequence[int]) -> Sequence[DecisionOpinion]:
        if not decision_ids:
            return []
        rows = await self._session.scalars(
            select(DecisionOpinion)
            .where(DecisionOpinion.decision_id.in_(decision_ids))
            .order_by(DecisionOpinion.at, DecisionOpinion.user_id)
        )
        return rows.all()

    async def opinion(self, decision_id: int, user_id: int) -> DecisionOpinion | None:
        return await self._session.get(DecisionOpinion, (decision_id, user_id))

    async def clear_opinions(self, decision_id: int) -> None:
        for opinion in await self.opinions([decision_id]):
            await self._session.delete(opinion)

    async def participant_ids(self, case_id: int) -> list[int]:
        """Users who acted on the case, in the order they first did."""
        first = func.min(CaseEvent.seq)
        rows = await self._session.execute(
            select(CaseEvent.actor_id, first)
            .where(CaseEvent.case_id == case_id, CaseEvent.actor_id.is_not(None))
            .group_by(CaseEvent.actor_id)
            .order_by(first)
        )
        return [row[0] for row in rows if row[0] is not None]

    async def users(self, user_ids: set[int]) -> dict[int, User]:
        if not user_ids:
            return {}
        rows = await self._session.scalars(select(User).where(User.id.in_(user_ids)))
        return {user.id: user for user in rows}

    async def facility(self, facility_id: int) -> Facility | None:
        return await self._session.get(Facility, facility_id)

    async def council(self, council_id: int) -> Council | None:
        return await self._session.get(Council, council_id)

    async def council_by_code(self, code: str) -> Council | None:
        return await self._session.scalar(select(Council).where(Council.code == code))

    async def existing_patient_codes(self, facility_id: int, codes: Sequence[str]) -> set[str]:
        """Which of ``codes`` the facility has already used on a case."""
        rows = await self._session.scalars(
            select(Case.patient_code).where(
                Case.requesting_facility_id == facility_id, Case.patient_code.in_(codes)
            )
        )
        return set(rows.all())

    async def list_cases(
        self,
        *,
        facility_id: int | None,
        council_ids: Sequence[int] | None,
        status: CaseStatus | None,
        urgency: Urgency | None,
        after: tuple[int, datetime, int] | None,
        limit: int,
    ) -> Sequence[Case]:
        """Visible cases by urgency, then longest waiting; keyset pagination after a key."""
        query: Select[Any] = select(Case)
        scope = []
        if facility_id is not None:
            scope.append(Case.requesting_facility_id == facility_id)
        if council_ids is not None:
            scope.append(Case.council_id.in_(council_ids))
        if scope:
            query = query.where(or_(*scope))
        if status is not None:
            query = query.where(Case.status == status)
        if urgency is not None:
            query = query.where(Case.urgency == urgency)
        if after is not None:
            rank, created_at, case_id = after
            query = query.where(
                or_(
                    Case.urgency_rank > rank,
                    and_(Case.urgency_rank == rank, Case.created_at > created_at),
                    and_(
                        Case.urgency_rank == rank, Case.created_at == created_at, Case.id > case_id
                    ),
                )
            )
        query = query.order_by(Case.urgency_rank, Case.created_at, Case.id).limit(limit)
        return (await self._session.scalars(query)).all()

    # Live rooms: who is notified of a case's events, and the cases a connection watches.

    async def council_member_ids(self, council_id: int) -> list[int]:
        """Active users seated on the council."""
        rows = await self._session.scalars(
            select(CouncilMembership.user_id)
            .join(User, User.id == CouncilMembership.user_id)
            .where(CouncilMembership.council_id == council_id, User.is_active.is_(True))
            .order_by(CouncilMembership.user_id)
        )
        return list(rows)

    async def facility_doctor_ids(self, facility_id: int) -> list[int]:
        """Active district doctors of the facility."""
        rows = await self._session.scalars(
            select(User.id)
            .where(
                User.facility_id == facility_id,
                User.role == UserRole.DISTRICT_DOCTOR,
                User.is_active.is_(True),
            )
            .order_by(User.id)
        )
        return list(rows)

    async def cases_by_ids(self, case_ids: Sequence[int]) -> dict[int, Case]:
        if not case_ids:
            return {}
        rows = await self._session.scalars(select(Case).where(Case.id.in_(case_ids)))
        return {case.id: case for case in rows}
