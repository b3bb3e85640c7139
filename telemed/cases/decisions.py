"""Decisions: the chair's draft, members' concurrence or dissent, signing and amendment."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from telemed.accounts.principal import Actor, Principal
from telemed.cases import access
from telemed.cases.board import decision_json, opinion_json
from telemed.cases.log import CaseLog
from telemed.cases.models import (
    Case,
    CaseStatus,
    ConsultationMode,
    Decision,
    DecisionOpinion,
    DecisionStatus,
    Stance,
)
from telemed.cases.repository import CaseRepository
from telemed.cases.schemas import DecisionDraft, OpinionInput, SignInput
from telemed.cases.seals import decision_hash
from telemed.cases.workflow import AMENDING_STATUSES, DRAFTING_STATUSES, sign_refusal
from telemed.cases.written import awaited
from telemed.clock import Clock
from telemed.errors import Conflict, FieldProblem, StepUpRequired, ValidationFailed
from telemed.shapes import Json

S = CaseStatus


# How recent the signer's step-up (password re-entered) must be, unless configured.
STEP_UP_WINDOW = timedelta(minutes=5)


class DecisionService:
    def __init__(
        self, case_log: CaseLog, clock: Clock, step_up_window: timedelta = STEP_UP_WINDOW
    ) -> None:
        self._log = case_log
        self._clock = clock
        self._step_up_window = step_up_window

    async def draft(self, actor: Actor, case_id: int, draft: DecisionDraft) -> Json:
        async with self._log.change(actor, "decision.draft", case_id) as change:
            repo, case, unit = change.repo, change.case, change.unit
            access.require_triage(actor.user, case)
            decisions = await repo.decisions(case.id)
            current = _open_draft(decisions)
            amends = _latest_signed(decisions)
            if case.status in AMENDING_STATUSES:
                unit.entry.action = "decision.amend"
            elif case.status not in DRAFTING_STATUSES:
                raise Conflict(
                    f"No decision can be drafted while the case is {case.status.value}.",
                    status=case.status.value,
                )
            await _check_answers(repo, case, draft)
            now = self._clock.now()
            if current is None:
                if draft.version != 0:
                    raise Conflict(
                        "There is no draft to edit; send version 0 to start one.", current_version=0
                    )
                current = Decision(
                    case_id=case.id,
                    status=DecisionStatus.DRAFT,
                    version=1,
                    amends_id=amends.id if amends and case.status in AMENDING_STATUSES else None,
                    drafted_by_id=actor.user.user_id,
                    created_at=now,
                    answers=[],
                    treatment_direction="",
                    transfer=False,
                )
                repo.add(current)
            else:
                _require_version(current, draft.version)
                current.version += 1
                await repo.clear_opinions(current.id)
            current.answers = [
                a.model_dump() for a in sorted(draft.answers, key=lambda a: a.question)
            ]
            current.treatment_direction = draft.treatment_direction
            current.transfer = draft.transfer
            current.follow_up = draft.follow_up
            current.updated_at = now
            await repo.flush()
            unit.entry.object_id = str(current.id)
            users = await repo.users({current.drafted_by_id})
            stored = decision_json(current, [], users)
            await change.append("decision.drafted", {"decision": stored})
        return stored

    async def opine(self, actor: Actor, case_id: int, opinion: OpinionInput) -> Json:
        action = f"decision.{opinion.stance}"
        principal = actor.user
        async with self._log.change(actor, action, case_id) as change:
            repo, case, unit = change.repo, change.case, change.unit
            access.require_council_member(principal, case)
            current = _open_draft(await repo.decisions(case.id))
            if current is None:
                raise Conflict("There is no draft decision to give an opinion on.")
            unit.entry.object_id = str(current.id)
            _require_version(current, opinion.version)
            if opinion.stance == "dissent" and not opinion.reason:
                raise ValidationFailed([FieldProblem("reason", "a dissent needs a reason")])
            row = await repo.opinion(current.id, principal.user_id)
            if row is None:
                row = DecisionOpinion(decision_id=current.id, user_id=principal.user_id)
                repo.add(row)
            row.stance, row.reason, row.at = (
                Stance(opinion.stance),
                opinion.reason,
                self._clock.now(),
            )
            await repo.flush()
            users = await repo.users({principal.user_id})
            data = {
                "decision_id": current.id,
                "version": current.version,
                "opinion": opinion_json(row, users[principal.user_id]),
            }
            await change.append("decision.opinion", data)
        return data

    async def sign(self, actor: Actor, case_id: int, sign: SignInput) -> Json:
        principal = actor.user
        async with self._log.change(actor, "decision.sign", case_id) as change:
            repo, case, unit = change.repo, change.case, change.unit
            access.require_triage(principal, case)
            # The signature (and an amendment's) is the chair's own act: proven by the
            # password re-entered moments ago, recorded on the signature's audit row.
            unit.entry.stepped_up_at = _require_step_up(
                principal, self._clock.now(), self._step_up_window
            )
            current = _open_draft(await repo.decisions(case.id))
            if current is None:
                raise Conflict("There is no draft decision to sign.")
            unit.entry.object_id = str(current.id)
            _require_version(current, sign.version)
            amendment = current.amends_id is not None
            decisions = await repo.decisions(case.id)
            waiting = await awaited(repo, case, decisions)
            if (why := sign_refusal(case, current, waiting, principal)) is not None:
                details: Json = {"status": case.status.value}
                if case.mode is ConsultationMode.WRITTEN:
                    others = [u.username for uid, u in waiting.items() if uid != principal.user_id]
                    details["awaiting"] = others
                raise Conflict(why, **details)
            await _check_complete(repo, case, current)
            now = self._clock.now()
            opinions = await repo.opinions([current.id])
            current.status = DecisionStatus.SIGNED
            current.signed_by_id = principal.user_id
            current.signed_at = now
            current.updated_at = now
            current.content_sha256 = decision_hash(current, opinions)
            # The signature's audit row chains the hash: see telemed/cases/seals.py.
            unit.entry.content_hash = current.content_sha256
            users = await repo.users(
                {current.drafted_by_id, principal.user_id, *(o.user_id for o in opinions)}
            )
            stored = decision_json(current, opinions, users)
            await change.append("decision.signed", {"decision": stored})
            if not amendment:
                before = case.status
                case.status, case.decided_at = S.DECIDED, now
                await change.append(
                    "case.decided",
                    {"action": "decide", "from": before.value, "to": S.DECIDED.value},
                )
        return stored


def _require_step_up(principal: Principal, now: datetime, window: timedelta) -> datetime:
    """The moment of the signer's step-up, if it is recent enough; refused otherwise."""
    at = principal.stepped_up_at
    if at is None or now - at > window or at > now:
        minutes = int(window.total_seconds() // 60)
        raise StepUpRequired(
            f"Confirm your password to sign: a signature needs it entered within the last "
            f"{minutes} minutes."
        )
    return at


def _require_version(draft: Decision, version: int) -> None:
    """Optimistic concurrency: an edit, opinion or signature names the version it saw."""
    if version != draft.version:
        raise Conflict(
            f"The draft changed meanwhile (now version {draft.version}); read it again.",
            current_version=draft.version,
        )


def _open_draft(decisions: Sequence[Decision]) -> Decision | None:
    return next((d for d in reversed(decisions) if d.status is DecisionStatus.DRAFT), None)


def _latest_signed(decisions: Sequence[Decision]) -> Decision | None:
    return next((d for d in reversed(decisions) if d.status is DecisionStatus.SIGNED), None)


async def _check_answers(repo: CaseRepository, case: Case, draft: DecisionDraft) -> None:
    numbers = {q.number for q in await repo.questions(case.id)}
    seen: set[int] = set()
    for index, answer in enumerate(draft.answers):
        if answer.question not in numbers or answer.question in seen:
            raise ValidationFailed(
                [
                    FieldProblem(
                        f"answers.{index}.question", "not a question of this case, or repeated"
                    )
                ]
            )
        seen.add(answer.question)


async def _check_complete(repo: CaseRepository, case: Case, decision: Decision) -> None:
    numbers = {q.number for q in await repo.questions(case.id)}
    answered = {a["question"] for a in decision.answers if a["answer"].strip()}
    missing = sorted(numbers - answered)
    problems = [
        FieldProblem(f"answers.{n}", f"question {n} has no answer", "unanswered") for n in missing
    ]
    message = "The decision must answer every question before it is signed."
    if missing:
        message += f" Unanswered: question {', '.join(map(str, missing))}."
    if not decision.treatment_direction.strip():
        problems.append(FieldProblem("treatment_direction", "must not be empty", "unanswered"))
        message += " The treatment direction is empty."
    if problems:
        raise ValidationFailed(problems, message)
