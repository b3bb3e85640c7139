"""Seals: the SHA-256 of every signed decision and every note, kept in the audit chain.

Signing a decision (an amendment too) or writing a note records the content's hash in
that action's own audit row (``content_hash``, a chained field), in the same transaction.
Whoever later edits the record in the database, and the decision's stored hash with it,
cannot make it match again without rewriting the chain, which verification and
checkpoints catch (docs/audit.md). ``SealCheck`` walks every seal for ``telemed audit
verify``; ``require_intact`` refuses a case's minutes and FHIR export while one of its
records does not match.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, String, and_, cast, exists, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from telemed.audit.models import AuditRecord
from telemed.audit.verify import AlteredRecord
from telemed.cases.models import Decision, DecisionOpinion, DecisionStatus, Note
from telemed.errors import RecordAltered
from telemed.shapes import iso

SIGN = "decision.sign"
NOTE = "note.create"
DEFAULT_BATCH = 500


def _digest(content: Mapping[str, Any]) -> str:
    encoded = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(encoded.encode()).hexdigest()


def decision_hash(decision: Decision, opinions: Iterable[DecisionOpinion]) -> str:
    """SHA-256 of the signed content in canonical JSON (sorted keys, compact, UTF-8)."""
    return _digest(
        {
            "case_id": decision.case_id,
            "decision_id": decision.id,
            "amends": decision.amends_id,
            "answers": sorted(decision.answers, key=lambda a: a["question"]),
            "treatment_direction": decision.treatment_direction,
            "transfer": decision.transfer,
            "follow_up": decision.follow_up,
            "drafted_by": decision.drafted_by_id,
            "signed_by": decision.signed_by_id,
            "signed_at": iso(decision.signed_at),
            "opinions": sorted(
                [
                    {"user": o.user_id, "stance": o.stance.value, "reason": o.reason}
                    for o in opinions
                ],
                key=lambda o: o["user"],
            ),
        }
    )


def note_hash(note: Note) -> str:
    """SHA-256 of what a note says and shows (its rendered HTML too), canonical JSON."""
    return _digest(
        {
            "case_id": note.case_id,
            "note_id": note.id,
            "seq": note.seq,
            "author": note.author_id,
            "created_at": iso(note.created_at),
            "body": note.body,
            "body_html": note.body_html,
            "question": note.question,
            "supersedes": note.supersedes_id,
        }
    )


@dataclass(frozen=True)
class Seal:
    """The successful audit row of a signature or a note: what it recorded."""

    seq: int
    action: str
    case_id: int | None
    object_id: str | None
    content_hash: str | None

    @property
    def record_id(self) -> int | None:
        text = self.object_id or ""
        return int(text) if text.isascii() and text.isdigit() else None


_SEAL_COLUMNS = (
    AuditRecord.seq,
    AuditRecord.action,
    AuditRecord.case_id,
    AuditRecord.object_id,
    AuditRecord.content_hash,
)


def _sealing(action: str, record_id: Any, case_id: Any) -> ColumnElement[bool]:
    return and_(
        AuditRecord.action == action,
        AuditRecord.outcome == "success",
        AuditRecord.object_id == cast(record_id, String),
        AuditRecord.case_id == case_id,
    )


class SealRepository:
    def __init__(self, db: AsyncSession) -> None:
        self._db = db

    async def seals(
        self, *, after_seq: int = 0, case_id: int | None = None, limit: int
    ) -> list[Seal]:
        statement = select(*_SEAL_COLUMNS).where(
            AuditRecord.action.in_((SIGN, NOTE)),
            AuditRecord.outcome == "success",
            AuditRecord.seq > after_seq,
        )
        if case_id is not None:
            statement = statement.where(AuditRecord.case_id == case_id)
        rows = await self._db.execute(statement.order_by(AuditRecord.seq).limit(limit))
        return [Seal(*row) for row in rows]

    async def decisions(self, ids: set[int]) -> dict[int, tuple[Decision, list[DecisionOpinion]]]:
        if not ids:
            return {}
        found: dict[int, tuple[Decision, list[DecisionOpinion]]] = {
            d.id: (d, [])
            for d in await self._db.scalars(select(Decision).where(Decision.id.in_(ids)))
        }
        opinions = await self._db.scalars(
            select(DecisionOpinion).where(DecisionOpinion.decision_id.in_(ids))
        )
        for opinion in opinions:
            found[opinion.decision_id][1].append(opinion)
        return found

    async def notes(self, ids: set[int]) -> dict[int, Note]:
        if not ids:
            return {}
        return {n.id: n for n in await self._db.scalars(select(Note).where(Note.id.in_(ids)))}

    async def first_unsealed(self, case_id: int | None) -> AlteredRecord | None:
        """The first signed decision, then the first note, that no audit row recorded."""
        decision = select(Decision.id, Decision.case_id).where(
            Decision.status == DecisionStatus.SIGNED,
            ~exists().where(_sealing(SIGN, Decision.id, Decision.case_id)),
        )
        note = select(Note.id, Note.case_id).where(
            ~exists().where(_sealing(NOTE, Note.id, Note.case_id))
        )
        if case_id is not None:
            decision = decision.where(Decision.case_id == case_id)
            note = note.where(Note.case_id == case_id)
        row = (await self._db.execute(decision.order_by(Decision.id).limit(1))).first()
        if row is not None:
            return AlteredRecord(
                "decision",
                row[0],
                row[1],
                None,
                f"signed decision {row[0]} of case {row[1]} was never signed in the audit "
                "trail: it was inserted, or marked signed, in the database",
            )
        row = (await self._db.execute(note.order_by(Note.id).limit(1))).first()
        if row is not None:
            return AlteredRecord(
                "note",
                row[0],
                row[1],
                None,
                f"note {row[0]} of case {row[1]} was never written through the audit "
                "trail: it was inserted in the database",
            )
        return None


def _decision_problem(
    seal: Seal, found: tuple[Decision, Sequence[DecisionOpinion]] | None
) -> str | None:
    name = f"signed decision {seal.object_id} of case {seal.case_id}"
    if found is None or found[0].case_id != seal.case_id:
        return f"{name} is missing: it was deleted"
    decision, opinions = found
    if decision.status is not DecisionStatus.SIGNED:
        return f"{name} is no longer signed: its status was changed"
    if decision.content_sha256 != decision_hash(decision, opinions):
        return f"{name} does not match its SHA-256: its content or opinions were edited"
    if seal.content_hash is not None and seal.content_hash != decision.content_sha256:
        return f"{name} no longer has the SHA-256 it was signed with: it was rewritten"
    return None


def _note_problem(seal: Seal, note: Note | None) -> str | None:
    name = f"note {seal.object_id} of case {seal.case_id}"
    if note is None or note.case_id != seal.case_id:
        return f"{name} is missing: it was deleted"
    if seal.content_hash is not None and seal.content_hash != note_hash(note):
        return f"{name} does not match the SHA-256 recorded when it was written: it was edited"
    return None


def _ids(seals: Sequence[Seal], action: str) -> set[int]:
    return {i for s in seals if s.action == action and (i := s.record_id) is not None}


async def first_broken_seal(repo: SealRepository, seals: Sequence[Seal]) -> AlteredRecord | None:
    """The first of ``seals`` (in chain order) whose record no longer matches it."""
    decisions = await repo.decisions(_ids(seals, SIGN))
    notes = await repo.notes(_ids(seals, NOTE))
    for seal in seals:
        record_id = seal.record_id
        if seal.action == SIGN:
            problem = _decision_problem(seal, decisions.get(record_id or 0))
        else:
            problem = _note_problem(seal, notes.get(record_id or 0))
        if problem is not None:
            kind = "decision" if seal.action == SIGN else "note"
            return AlteredRecord(kind, record_id or 0, seal.case_id or 0, seal.seq, problem)
    return None


async def require_intact(db: AsyncSession, case_id: int) -> None:
    """Refuse (409) when a signed decision or a note of the case does not match its seal."""
    repo = SealRepository(db)
    after = 0
    while True:
        seals = await repo.seals(after_seq=after, case_id=case_id, limit=DEFAULT_BATCH)
        altered = await first_broken_seal(repo, seals)
        if altered is not None or len(seals) < DEFAULT_BATCH:
            break
        after = seals[-1].seq
    altered = altered or await repo.first_unsealed(case_id)
    if altered is not None:
        raise RecordAltered(
            f"The {altered.kind} {altered.id} of this case no longer matches the SHA-256 "
            "recorded in the audit trail; nothing is produced from the case until an "
            "administrator has run `telemed audit verify`.",
            record={"type": altered.kind, "id": altered.id},
        )


class SealCheck:
    """For ``ChainVerifier``: every seal in chain order, each batch in a short transaction
    of its own, then any signed decision or note that no audit row recorded."""

    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], batch_size: int = DEFAULT_BATCH
    ) -> None:
        self._sessionmaker = sessionmaker
        self._batch_size = batch_size

    async def first_altered(self) -> AlteredRecord | None:
        after = 0
        while True:
            async with self._sessionmaker() as db, db.begin():
                repo = SealRepository(db)
                seals = await repo.seals(after_seq=after, limit=self._batch_size)
                altered = await first_broken_seal(repo, seals)
            if altered is not None:
                return altered
            if len(seals) < self._batch_size:
                break
            after = seals[-1].seq
        async with self._sessionmaker() as db, db.begin():
            return await SealRepository(db).first_unsealed(None)
