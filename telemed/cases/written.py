"""The written consultation's round: whose opinion on the open draft is still awaited.

Signing a written consultation needs every council member's opinion on the draft's
current version (the signer's signature stands for their own), unless the chair closed the
round (telemed/cases/workflow.py, ``sign_refusal``). Seats are not case events, so what is
awaited is not on the board: the case's ``allowed_actions`` answer carries it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from telemed.accounts.models import User
from telemed.cases.models import Case, ConsultationMode, Decision
from telemed.cases.repository import CaseRepository
from telemed.cases.workflow import open_draft
from telemed.shapes import Json, actor_json, iso


async def awaited(
    repo: CaseRepository, case: Case, decisions: Sequence[Decision]
) -> dict[int, User]:
    """The council members (by user id) with no opinion on the open draft yet; empty when
    there is no draft."""
    draft = open_draft(decisions)
    if draft is None:
        return {}
    answered = {o.user_id for o in await repo.opinions([draft.id])}
    members = await repo.council_members(case.council_id)
    return {u.id: u for u in members if u.id not in answered}


def round_json(case: Case, awaiting: Mapping[int, User]) -> Json | None:
    """The written round as the case page shows it, or None when the case is not written."""
    if case.mode is not ConsultationMode.WRITTEN:
        return None
    return {
        "answer_by": iso(case.answer_by),
        "closed_at": iso(case.round_closed_at),
        "awaiting": [actor_json(user) for user in awaiting.values()],
    }
