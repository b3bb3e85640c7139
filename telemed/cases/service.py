"""Cases: the rules of the consultation workflow, each action one audited transaction."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Row

from telemed import jsontext
from telemed.accounts.models import User, UserRole
from telemed.accounts.principal import Actor, Principal
from telemed.audit.work import AuditedWork
from telemed.cases import access
from telemed.cases.board import (
    NOTES_PAGE,
    RECORDING_EVENTS,
    assemble,
    attachment_json,
    case_core_json,
    decision_json,
    mark_superseded,
    metadata_json,
    note_json,
)
from telemed.cases.deadlines import DeadlinePolicy, deadlines_json
from telemed.cases.identity import matching_identities, store_identity
from telemed.cases.identity_cipher import IdentityCipher
from telemed.cases.listing import case_filter, decode_cursor, encode_cursor
from telemed.cases.log import CaseLog
from telemed.cases.markdown import render
from telemed.cases.models import URGENCY_RANK, Case, CaseQuestion, CaseStatus, Note
from telemed.cases.repository import CaseRepository
from telemed.cases.schemas import (
    CaseListQuery,
    EventsQuery,
    NewCase,
    NewNote,
    NotesQuery,
    TransitionInput,
)
from telemed.cases.seals import note_hash
from telemed.cases.workflow import TRANSITIONS, Transition, allowed_actions, require_open
from telemed.cases.written import awaited, round_json
from telemed.clock import Clock
from telemed.errors import Conflict, FieldProblem, Forbidden, NotFound, ValidationFailed
from telemed.shapes import Json, actor_json, iso

S = CaseStatus

# A session time earlier than this before now is refused: a typo or a stale form, not a
# plan (the slack covers a time picked to the minute, and clocks that differ a little).
SCHEDULE_SLACK = timedelta(minutes=5)


class CaseService:
    def __init__(
        self,
        case_log: CaseLog,
        work: AuditedWork,
        clock: Clock,
        cipher: IdentityCipher,
        deadlines: DeadlinePolicy | None = None,
    ) -> None:
        self._log = case_log
        self._work = work
        self._clock = clock
        self._cipher = cipher
        self._deadlines = deadlines or DeadlinePolicy()

    async def create(self, actor: Actor, new: NewCase) -> Json:
        principal = actor.user
        async with self._log.change(actor, "case.create", None) as change:
            repo = change.repo
            if principal.role is not UserRole.DISTRICT_DOCTOR or principal.facility is None:
                raise Forbidden("Only doctors of a requesting facility open consultations.")
            council = await repo.council_by_code(new.council)
            if council is None:
                raise ValidationFailed([FieldProblem("council", f"no council {new.council!r}")])
            now = self._clock.now()
            case = Case(
                requesting_facility_id=principal.facility.id,
                requested_by_id=principal.user_id,
                council_id=council.id,
                patient_code=new.patient_code,
                patient_sex=new.patient_sex,
                patient_birth_year=new.patient_birth_year,
                title=new.title,
                summary=new.summary,
                specialty=new.specialty,
                urgency=new.urgency,
                urgency_rank=URGENCY_RANK[new.urgency],
                status=S.REQUESTED,
                created_at=now,
                updated_at=now,
                last_seq=0,
            )
            repo.add(case)
            await repo.flush()
            await repo.index_for_search(case)
            change.begin(case)
            questions = [
                CaseQuestion(case_id=case.id, number=n, text=text)
                for n, text in enumerate(new.questions, start=1)
            ]
            for question in questions:
                repo.add(question)
            facility = await repo.facility(case.requesting_facility_id)
            requester = (await repo.users({principal.user_id}))[principal.user_id]
            assert facility is not None
            core = case_core_json(case, facility, council, requester, questions)
            await change.append("case.created", {"case": core})
            if new.identity is not None:
                identity = new.identity.fields()
                changed = await store_identity(change, self._cipher, identity, now)
                if changed:
                    await change.append("case.identity_updated", {"fields": changed})
            board = await self._board(repo, case)
        return board

    async def list(self, actor: Actor, query: CaseListQuery) -> Json:
        """The cases the reader may see, filtered, ordered and paged; a search when it
        names words, a council, a facility or dates (audited as ``case.search``)."""
        principal = actor.user
        action = "case.search" if query.searches else "case.list"
        async with self._work(actor, action) as unit:
            repo = CaseRepository(unit.db)
            wanted = await case_filter(repo, principal, query)
            if wanted.words:
                found = await matching_identities(repo, self._cipher, wanted)
                wanted = replace(wanted, identity_ids=found)
            after = decode_cursor(query.cursor, query.sort) if query.cursor else None
            rows = await repo.list_cases(wanted, after, query.limit + 1)
            page = list(rows[: query.limit])
            items = [await self._list_item(repo, principal, case) for case in page]
        more = len(rows) > query.limit
        return {
            "items": items,
            "next_cursor": encode_cursor(page[-1], query.sort) if more else None,
        }

    async def get(self, actor: Actor, case_id: int) -> Json:
        """The board with its latest notes for those who follow it (the case's participants
        and its guests); the metadata for an administrator."""
        async with self._work(actor, "case.read", case_id=case_id) as unit:
            repo = CaseRepository(unit.db)
            found = await repo.get(case_id)
            if found is not None and access.may_follow_board(actor.user, found):
                case = found
            else:
                return await self._metadata(repo, access.require_visible(actor.user, found))
            board = await self._board(repo, case)
            decisions = await repo.decisions(case.id)
            waiting = await awaited(repo, case, decisions)
            board["allowed_actions"] = allowed_actions(actor.user, case, decisions, waiting)
            board["deadlines"] = deadlines_json(case, self._deadlines)
            return board

    async def actions(self, actor: Actor, case_id: int) -> Json:
        """What the user may do on the case now (its board's followers, guests included)."""
        async with self._work(actor, "case.actions", case_id=case_id) as unit:
            repo = CaseRepository(unit.db)
            case = access.require_board(actor.user, await repo.get(case_id))
            decisions = await repo.decisions(case.id)
            waiting = await awaited(repo, case, decisions)
            return {
                "case_id": case.id,
                "status": case.status.value,
                "mode": case.mode.value if case.mode else None,
                "last_seq": case.last_seq,
                "allowed_actions": allowed_actions(actor.user, case, decisions, waiting),
                "written_round": round_json(case, waiting),
                "deadlines": deadlines_json(case, self._deadlines),
            }

    async def events(self, actor: Actor, case_id: int, query: EventsQuery) -> Json:
        """Events after ``after`` (``has_more``: later ones remain), or the last ones before
        ``before`` (``has_more``: earlier ones remain)."""
        async with self._work(actor, "case.events", case_id=case_id) as unit:
            repo = CaseRepository(unit.db)
            case = access.require_board(actor.user, await repo.get(case_id))
            if query.before is None:
                return await self.events_in(repo, case, query.after, query.limit)
            rows = await repo.events_before(case.id, query.before, query.limit)
            first = rows[0].seq if rows else min(query.before, case.last_seq + 1)
            return {"events": stored(rows), "last_seq": case.last_seq, "has_more": first > 1}

    async def events_in(self, repo: CaseRepository, case: Case, after: int, limit: int) -> Json:
        rows = await repo.events_after(case.id, after, limit)
        last = rows[-1].seq if rows else after
        return {"events": stored(rows), "last_seq": case.last_seq, "has_more": last < case.last_seq}

    async def notes(self, actor: Actor, case_id: int, query: NotesQuery) -> Json:
        """A page of the case's notes: the last ``limit`` before seq ``before``."""
        async with self._work(actor, "case.notes", case_id=case_id) as unit:
            repo = CaseRepository(unit.db)
            case = access.require_board(actor.user, await repo.get(case_id))
            notes, before = await notes_page(repo, case.id, query.before, query.limit)
            users = await repo.users({n.author_id for n in notes})
            return {
                "notes": await notes_json(repo, notes, users),
                "notes_before": before,
            }

    async def transition(self, actor: Actor, case_id: int, change: TransitionInput) -> Json:
        rule = TRANSITIONS[change.action]
        async with self._log.change(actor, f"case.{change.action}", case_id) as writing:
            case = writing.case
            if rule.who == "triage":
                access.require_triage(actor.user, case)
            else:
                access.require_requester(actor.user, case)
            if case.status not in rule.sources:
                raise Conflict(
                    f"Cannot {change.action.replace('_', ' ')} a case that is {case.status.value}.",
                    status=case.status.value,
                )
            if (why := rule.refusal(case)) is not None:
                raise Conflict(why, status=case.status.value)
            data: Json = {
                "action": change.action,
                "from": case.status.value,
                "to": rule.target.value,
            }
            if rule.needs is not None and getattr(change, rule.needs) is None:
                raise ValidationFailed([FieldProblem(rule.needs, "required for this action")])
            for field in ("reason", "message"):
                if getattr(change, field) is not None:
                    data[field] = getattr(change, field)
            if change.action == "schedule":
                assert change.scheduled_at is not None
                case.scheduled_at = self._future(change.scheduled_at, "scheduled_at")
                data["scheduled_at"] = iso(case.scheduled_at)
            if change.action == "close":
                case.outcome = change.outcome
                data["outcome"] = change.outcome
            self._change_mode(case, rule, change, data)
            if rule.who == "triage" and case.first_answered_at is None:
                case.first_answered_at = self._clock.now()
            case.status = rule.target
            await writing.append(rule.event, data)
            board = await self._board(writing.repo, case)
        return board

    def _future(self, moment: datetime, field: str) -> datetime:
        """``moment`` in UTC, refused when it is already past (``field`` names it)."""
        if moment < self._clock.now() - SCHEDULE_SLACK:
            raise ValidationFailed([FieldProblem(field, "must not be in the past", "in_the_past")])
        return moment.astimezone(UTC)

    def _change_mode(
        self, case: Case, rule: Transition, change: TransitionInput, data: Json
    ) -> None:
        """The written round a transition opens or closes, and the mode it leaves the case in
        (everything already written stays on the board either way)."""
        if change.answer_by is not None and rule.needs == "answer_by":
            # A new written round: its deadline, nothing closed yet, no session planned.
            case.answer_by = self._future(change.answer_by, "answer_by")
            case.round_closed_at = None
            data.update(answer_by=iso(case.answer_by), round_closed_at=None)
            if case.scheduled_at is not None:
                case.scheduled_at = None
                data["scheduled_at"] = None
        if change.action == "close_round":
            case.round_closed_at = self._clock.now()
            data["round_closed_at"] = iso(case.round_closed_at)
        if rule.mode is not None:
            case.mode = rule.mode
            data["mode"] = rule.mode.value

    async def add_note(self, actor: Actor, case_id: int, new: NewNote) -> tuple[Json, bool]:
        """The stored note and whether it is new (False when ``client_id`` was seen before)."""
        principal = actor.user
        async with self._log.change(actor, "note.create", case_id) as change:
            repo, case, unit = change.repo, change.case, change.unit
            if new.client_id is not None:
                earlier = await repo.note_by_client_id(case.id, principal.user_id, new.client_id)
                if earlier is not None:
                    unit.entry.object_id = str(earlier.id)
                    return note_json(earlier, actor_json(principal)), False
            require_open(case)
            await self._check_note_refs(repo, case, principal, new)
            # The case row is locked for this transaction, so its next seq is this note's.
            note = Note(
                case_id=case.id,
                seq=case.last_seq + 1,
                author_id=principal.user_id,
                created_at=self._clock.now(),
                body=new.body,
                body_html=render(new.body),
                question=new.question,
                supersedes_id=new.supersedes,
                client_id=new.client_id,
            )
            await repo.insert_note(note)
            stored = note_json(note, actor_json(principal))
            event = await change.append("note.created", {"note": stored})
            assert event["seq"] == note.seq, "the case row was not locked"
            unit.entry.object_id = str(note.id)
            # The note's audit row chains its hash: see telemed/cases/seals.py.
            unit.entry.content_hash = note_hash(note)
        return stored, True

    async def _check_note_refs(
        self, repo: CaseRepository, case: Case, principal: Principal, new: NewNote
    ) -> None:
        if new.question is not None:
            numbers = {q.number for q in await repo.questions(case.id)}
            if new.question not in numbers:
                raise ValidationFailed([FieldProblem("question", "no such question on this case")])
        if new.supersedes is not None:
            earlier = await repo.note(case.id, new.supersedes)
            if earlier is None:
                raise ValidationFailed([FieldProblem("supersedes", "no such note on this case")])
            if earlier.author_id != principal.user_id:
                raise Forbidden("Only the author of a note may correct it.")

    async def _list_item(self, repo: CaseRepository, principal: Principal, case: Case) -> Json:
        facility = await repo.facility(case.requesting_facility_id)
        council = await repo.council(case.council_id)
        assert facility is not None
        assert council is not None
        item = metadata_json(case, facility, council)
        item["deadlines"] = deadlines_json(case, self._deadlines)
        if access.is_participant_side(principal, case):
            item.update({"title": case.title, "patient_code": case.patient_code, "clinical": True})
        return item

    async def _metadata(self, repo: CaseRepository, case: Case) -> Json:
        facility = await repo.facility(case.requesting_facility_id)
        council = await repo.council(case.council_id)
        assert facility is not None
        assert council is not None
        return {
            **metadata_json(case, facility, council),
            "deadlines": deadlines_json(case, self._deadlines),
        }

    async def _board(self, repo: CaseRepository, case: Case) -> Json:
        return await board_from_tables(repo, case, NOTES_PAGE)


async def notes_page(
    repo: CaseRepository, case_id: int, before: int | None, limit: int | None
) -> tuple[Sequence[Note], int | None]:
    """The last ``limit`` notes before seq ``before`` (every note when ``limit`` is None),
    and the ``before`` of the page under them (None when there are no earlier notes)."""
    if limit is None:
        return await repo.notes(case_id), None
    notes = await repo.notes(case_id, before=before, limit=limit + 1)
    if len(notes) > limit:
        notes = notes[1:]
        return notes, notes[0].seq
    return notes, None


def stored(rows: Sequence[Row[int, str]]) -> list[Json]:
    """Events from their stored text, exactly as they were when appended."""
    return [jsontext.loads(row.body) for row in rows]


async def notes_json(
    repo: CaseRepository, notes: Sequence[Note], users: Mapping[int, User]
) -> list[Json]:
    shown = [note_json(n, actor_json(users.get(n.author_id))) for n in notes]
    mark_superseded(shown, await repo.corrections([n.id for n in notes]))
    return shown


async def board_from_tables(
    repo: CaseRepository, case: Case, notes_limit: int | None = None
) -> Json:
    """The board; with the latest ``notes_limit`` notes (None: every note, as the minutes
    print them)."""
    facility = await repo.facility(case.requesting_facility_id)
    council = await repo.council(case.council_id)
    assert facility is not None
    assert council is not None
    questions = await repo.questions(case.id)
    notes, notes_before = await notes_page(repo, case.id, None, notes_limit)
    attachments = await repo.attachments(case.id)
    decisions = await repo.decisions(case.id)
    opinions = await repo.opinions([d.id for d in decisions])
    participant_ids = await repo.participant_ids(case.id)
    user_ids: set[int] = {case.requested_by_id, *participant_ids}
    user_ids |= {n.author_id for n in notes} | {a.uploaded_by_id for a in attachments}
    user_ids |= {o.user_id for o in opinions}
    for decision in decisions:
        user_ids |= {
            decision.drafted_by_id,
            *([decision.signed_by_id] if decision.signed_by_id else []),
        }
    users = await repo.users(user_ids)
    by_decision: dict[int, list[Any]] = {}
    for opinion in opinions:
        by_decision.setdefault(opinion.decision_id, []).append(opinion)
    core = case_core_json(case, facility, council, users[case.requested_by_id], questions)
    return assemble(
        core,
        notes=await notes_json(repo, notes, users),
        notes_before=notes_before,
        attachments=[attachment_json(a, users.get(a.uploaded_by_id)) for a in attachments],
        decisions=[decision_json(d, by_decision.get(d.id, []), users) for d in decisions],
        participants=[j for j in (actor_json(users.get(uid)) for uid in participant_ids) if j],
        recording=await repo.last_event_of(case.id, RECORDING_EVENTS) == "recording.started",
        updated_at=iso(case.updated_at),
        last_seq=case.last_seq,
    )


__all__ = [
    "CaseService",
    "NotFound",
    "board_from_tables",
]
