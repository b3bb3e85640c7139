"""Queries for cases, their event log and the tables the events keep in shape."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Row, and_, bindparam, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from telemed import jsontext
from telemed.accounts.models import (
    Council,
    CouncilMembership,
    CouncilRole,
    Facility,
    User,
    UserRole,
)
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
from telemed.cases.schemas import CaseSort
from telemed.cases.search_index import index_case, matching_ids
from telemed.db.base import table
from telemed.db.deferred import defer
from telemed.shapes import Json

_NEXT_SEQ = (
    update(Case)
    .where(Case.id == bindparam("case_id"))
    .values(last_seq=Case.last_seq + 1, updated_at=bindparam("at"))
    .returning(Case.last_seq)
    # The case object is kept in step by next_seq itself; the ORM's default would evaluate
    # the WHERE against every object in the session, on every event.
    .execution_options(synchronize_session=False)
)
_EVENTS = table(CaseEvent)
_NOTE_COLUMNS = [c.key for c in table(Note).columns if c.key != "id"]
_INSERT_NOTE = insert(table(Note)).returning(table(Note).c.id)
# Events are read as their stored JSON text: a replay of 1,000 spent most of its time
# making ORM objects, decoding their data and encoding them again.
_EVENT_COLUMNS = select(CaseEvent.seq, CaseEvent.body)

# Where a page of the list ends: (urgency rank, created_at, case id).
Position = tuple[int, datetime, int]


@dataclass(frozen=True)
class CaseFilter:
    """Which cases a list or search wants, within the reader's scope, and in what order."""

    # The reader's scope: their facility's cases, or their councils' (None: every case).
    facility_scope: int | None = None
    council_scope: Sequence[int] | None = None
    status: CaseStatus | None = None
    urgency: Urgency | None = None
    council_id: int | None = None
    facility_id: int | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    # Folded words (search_text.words), each the start of a word of the case's index.
    words: Sequence[str] = ()
    # Cases whose sealed identity holds every word (found by the service): they match too.
    identity_ids: Sequence[int] = ()
    sort: CaseSort = "urgency"


def tuple_after(*pairs: tuple[Any, Any]) -> ColumnElement[bool]:
    """(a, b, ...) > (x, y, ...) in lexicographic order, written out for both backends."""
    (column, value), rest = pairs[0], pairs[1:]
    if not rest:
        return column > value  # type: ignore[no-any-return]
    return or_(column > value, and_(column == value, tuple_after(*rest)))


def tuple_before(*pairs: tuple[Any, Any]) -> ColumnElement[bool]:
    """(a, b, ...) < (x, y, ...) in lexicographic order."""
    (column, value), rest = pairs[0], pairs[1:]
    if not rest:
        return column < value  # type: ignore[no-any-return]
    return or_(column < value, and_(column == value, tuple_before(*rest)))


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

    async def next_seq(self, case: Case, at: datetime) -> int:
        """The case's next seq, taken in the current transaction.

        The UPDATE ... RETURNING takes the case row's write lock until commit, so
        concurrent writers on one case get consecutive seqs; a rollback takes the seq back
        with its event, so the log never has gaps. Core, built once: every change runs it.
        """
        seq: int = (
            await self._session.execute(_NEXT_SEQ, {"case_id": case.id, "at": at})
        ).scalar_one()
        # What the database now holds, without marking the row for another UPDATE.
        set_committed_value(case, "last_seq", seq)
        set_committed_value(case, "updated_at", at)
        return seq

    def insert_event(self, event: Json, actor_id: int | None, at: datetime) -> None:
        """Store ``event`` (its seq taken by ``next_seq``) with its JSON text, written once
        here and replayed as it is. Deferred (telemed/db/deferred.py): the events of a
        batch go in one statement, before anything reads them."""
        defer(
            self._session,
            _EVENTS,
            {
                "case_id": event["case_id"],
                "seq": event["seq"],
                "type": event["type"],
                "actor_id": actor_id,
                "at": at,
                "data": event["data"],
                "body": jsontext.dumps(event),
            },
        )

    async def insert_note(self, note: Note) -> None:
        """Store a new note (not added to the session: a Core insert); sets its id."""
        values = {column: getattr(note, column) for column in _NOTE_COLUMNS}
        note.id = (await self._session.execute(_INSERT_NOTE, values)).scalar_one()

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

    async def events_after(self, case_id: int, after: int, limit: int) -> Sequence[Row[int, str]]:
        """Up to ``limit`` events after seq ``after``, in seq order: (seq, JSON text)."""
        rows = await self._session.execute(
            _EVENT_COLUMNS.where(CaseEvent.case_id == case_id, CaseEvent.seq > after)
            .order_by(CaseEvent.seq)
            .limit(limit)
        )
        return rows.all()

    async def events_before(self, case_id: int, before: int, limit: int) -> Sequence[Row[int, str]]:
        """The last ``limit`` events before seq ``before``, in seq order: (seq, JSON text)."""
        rows = await self._session.execute(
            _EVENT_COLUMNS.where(CaseEvent.case_id == case_id, CaseEvent.seq < before)
            .order_by(CaseEvent.seq.desc())
            .limit(limit)
        )
        return rows.all()[::-1]

    async def last_event_of(self, case_id: int, types: Sequence[str]) -> str | None:
        """The type of the case's latest event of these types, if any."""
        return await self._session.scalar(
            select(CaseEvent.type)
            .where(CaseEvent.case_id == case_id, CaseEvent.type.in_(types))
            .order_by(CaseEvent.seq.desc())
            .limit(1)
        )

    async def notes(
        self, case_id: int, *, before: int | None = None, limit: int | None = None
    ) -> Sequence[Note]:
        """The case's notes in seq order: all of them, or the last ``limit`` before seq
        ``before`` (the latest when ``before`` is None)."""
        statement = select(Note).where(Note.case_id == case_id)
        if before is not None:
            statement = statement.where(Note.seq < before)
        if limit is None:
            return (await self._session.scalars(statement.order_by(Note.seq))).all()
        rows = await self._session.scalars(statement.order_by(Note.seq.desc()).limit(limit))
        return rows.all()[::-1]

    async def corrections(self, note_ids: Sequence[int]) -> dict[int, int]:
        """For each of these notes that a later note corrects, that later note's id."""
        if not note_ids:
            return {}
        rows = await self._session.execute(
            select(Note.supersedes_id, Note.id)
            .where(Note.supersedes_id.in_(note_ids))
            .order_by(Note.seq)  # corrected twice: the latest correction
        )
        return {earlier: later for earlier, later in rows if earlier is not None}

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

    async def council_members(self, council_id: int) -> Sequence[User]:
        """The active users seated on the council, by id."""
        rows = await self._session.scalars(
            select(User)
            .join(CouncilMembership, CouncilMembership.user_id == User.id)
            .where(CouncilMembership.council_id == council_id, User.is_active.is_(True))
            .order_by(User.id)
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

    async def facility_by_code(self, code: str) -> Facility | None:
        return await self._session.scalar(select(Facility).where(Facility.code == code))

    async def index_for_search(self, case: Case) -> None:
        """Put the new case's patient code, title and summary into the search index."""
        await index_case(self._session, case)

    async def existing_patient_codes(self, facility_id: int, codes: Sequence[str]) -> set[str]:
        """Which of ``codes`` the facility has already used on a case."""
        rows = await self._session.scalars(
            select(Case.patient_code).where(
                Case.requesting_facility_id == facility_id, Case.patient_code.in_(codes)
            )
        )
        return set(rows.all())

    async def list_cases(
        self, wanted: CaseFilter, after: Position | None, limit: int
    ) -> Sequence[Case]:
        """Visible cases matching ``wanted`` in its order; keyset pagination after a key."""
        query = select(Case).where(*self._within(wanted))
        if wanted.words:
            indexed = Case.id.in_(matching_ids(self._session, wanted.words))
            query = query.where(or_(indexed, Case.id.in_(wanted.identity_ids)))
        order: list[Any]
        if wanted.sort == "urgency":
            order = [Case.urgency_rank, Case.created_at, Case.id]
            if after is not None:
                rank, created_at, case_id = after
                query = query.where(
                    tuple_after(
                        (Case.urgency_rank, rank), (Case.created_at, created_at), (Case.id, case_id)
                    )
                )
        else:
            newest = wanted.sort == "newest"
            order = (
                [Case.created_at.desc(), Case.id.desc()] if newest else [Case.created_at, Case.id]
            )
            if after is not None:
                _, created_at, case_id = after
                pairs = ((Case.created_at, created_at), (Case.id, case_id))
                query = query.where(tuple_before(*pairs) if newest else tuple_after(*pairs))
        return (await self._session.scalars(query.order_by(*order).limit(limit))).all()

    async def sealed_identities(self, wanted: CaseFilter) -> Sequence[tuple[int, bytes]]:
        """(case id, sealed identity) of the cases ``wanted`` names, but for its words."""
        query = select(CaseIdentity.case_id, CaseIdentity.sealed).join(
            Case, Case.id == CaseIdentity.case_id
        )
        rows = await self._session.execute(query.where(*self._within(wanted)))
        return [(case_id, sealed) for case_id, sealed in rows.all()]

    def _within(self, wanted: CaseFilter) -> list[ColumnElement[bool]]:
        """The reader's scope and ``wanted``'s filters (not its words), as conditions."""
        scope = []
        if wanted.facility_scope is not None:
            scope.append(Case.requesting_facility_id == wanted.facility_scope)
        if wanted.council_scope is not None:
            scope.append(Case.council_id.in_(wanted.council_scope))
        conditions = [
            or_(*scope) if scope else None,
            Case.status == wanted.status if wanted.status else None,
            Case.urgency == wanted.urgency if wanted.urgency else None,
            Case.council_id == wanted.council_id if wanted.council_id else None,
            Case.requesting_facility_id == wanted.facility_id if wanted.facility_id else None,
            Case.created_at >= wanted.created_from if wanted.created_from else None,
            Case.created_at < wanted.created_to if wanted.created_to else None,
        ]
        return [c for c in conditions if c is not None]

    # Live rooms: who is notified of a case's events, and the cases a connection watches.

    async def council_member_ids(
        self, council_id: int, roles: Collection[CouncilRole] | None = None
    ) -> list[int]:
        """Active users seated on the council (in one of ``roles``, when given)."""
        statement = (
            select(CouncilMembership.user_id)
            .join(User, User.id == CouncilMembership.user_id)
            .where(CouncilMembership.council_id == council_id, User.is_active.is_(True))
            .order_by(CouncilMembership.user_id)
        )
        if roles is not None:
            statement = statement.where(CouncilMembership.council_role.in_(roles))
        rows = await self._session.scalars(statement)
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
