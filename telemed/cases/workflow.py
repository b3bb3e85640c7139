"""The consultation's workflow: which action moves a case from which status and who may take
it, and from those same rules, what one user may do on a case now.

The page offers exactly ``allowed_actions`` (docs/api.md): it holds no copy of these rules,
and the services still check every request.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from telemed.accounts.principal import Principal
from telemed.cases import access
from telemed.cases.models import Case, CaseStatus, Decision, DecisionStatus
from telemed.errors import Conflict

S = CaseStatus


@dataclass(frozen=True)
class Transition:
    sources: frozenset[CaseStatus]
    target: CaseStatus
    who: str  # "triage" (chair/secretary) or "requester"
    event: str  # the event type it writes
    needs: str | None = None  # the input field this action requires


TRANSITIONS: dict[str, Transition] = {
    "accept": Transition(frozenset({S.REQUESTED}), S.ACCEPTED, "triage", "case.accepted"),
    "decline": Transition(
        frozenset({S.REQUESTED, S.INFO_REQUESTED}), S.DECLINED, "triage", "case.declined", "reason"
    ),
    "request_info": Transition(
        frozenset({S.REQUESTED}), S.INFO_REQUESTED, "triage", "case.info_requested", "message"
    ),
    "provide_info": Transition(
        frozenset({S.INFO_REQUESTED}), S.REQUESTED, "requester", "case.info_provided", "message"
    ),
    "schedule": Transition(
        frozenset({S.ACCEPTED, S.SCHEDULED}),
        S.SCHEDULED,
        "triage",
        "case.scheduled",
        "scheduled_at",
    ),
    "start_session": Transition(
        frozenset({S.SCHEDULED}), S.IN_SESSION, "triage", "case.session_started"
    ),
    "close": Transition(frozenset({S.DECIDED}), S.CLOSED, "requester", "case.closed", "outcome"),
    "cancel": Transition(
        frozenset({S.REQUESTED, S.INFO_REQUESTED, S.ACCEPTED, S.SCHEDULED}),
        S.CANCELLED,
        "requester",
        "case.cancelled",
    ),
}

# Notes and attachments are taken while the case is open.
OPEN_STATUSES = frozenset(
    {S.REQUESTED, S.INFO_REQUESTED, S.ACCEPTED, S.SCHEDULED, S.IN_SESSION, S.DECIDED}
)
# A decision is drafted from acceptance to the session; once one is signed, a new draft
# amends it.
DRAFTING_STATUSES = frozenset({S.ACCEPTED, S.SCHEDULED, S.IN_SESSION})
AMENDING_STATUSES = frozenset({S.DECIDED, S.CLOSED})
# The call is offered from scheduling to the end of the session: before the session, joining
# waits in the lobby.
CALL_STATUSES = frozenset({S.SCHEDULED, S.IN_SESSION})
# Guest specialists are invited from acceptance to the end of the session.
INVITE_STATUSES = frozenset({S.ACCEPTED, S.SCHEDULED, S.IN_SESSION})


def require_open(case: Case) -> None:
    if case.status not in OPEN_STATUSES:
        raise Conflict(f"The case is {case.status.value}.", status=case.status.value)


def open_draft(decisions: Sequence[Decision]) -> Decision | None:
    """The draft being worked on (the latest), if any; ``decisions`` in creation order."""
    return next((d for d in reversed(decisions) if d.status is DecisionStatus.DRAFT), None)


def allowed_actions(principal: Principal, case: Case, decisions: Sequence[Decision]) -> list[str]:
    """What ``principal`` may do on ``case`` now, given its ``decisions`` (creation order).

    Transitions by their names in ``TRANSITIONS``; ``note`` and ``attach``; for decisions
    ``draft_decision`` (start or edit the draft), ``amend_decision`` (start amending the
    signed one), ``sign_decision`` and ``opine``; for the call ``join_call``, ``admit``
    (from the lobby), ``record`` and ``invite_guest``. Nothing for whoever may not follow
    the case's board.
    """
    if not access.may_follow_board(principal, case):
        return []
    status = case.status
    seat = access.council_role(principal, case)
    triage = seat in access.TRIAGE_ROLES
    requester = access.is_requester_side(principal, case)
    allowed = [
        name
        for name, rule in TRANSITIONS.items()
        if status in rule.sources and (triage if rule.who == "triage" else requester)
    ]
    if status in OPEN_STATUSES and (requester or seat is not None):
        allowed += ["note", "attach"]
    draft = open_draft(decisions)
    if triage:
        if status in DRAFTING_STATUSES or (status in AMENDING_STATUSES and draft is not None):
            allowed.append("draft_decision")
        if status in AMENDING_STATUSES and draft is None:
            allowed.append("amend_decision")
        if draft is not None and status in signing_statuses(draft):
            allowed.append("sign_decision")
    if seat is not None and draft is not None:
        allowed.append("opine")
    if status in CALL_STATUSES:
        allowed.append("join_call")
    if triage and status in INVITE_STATUSES:
        allowed.append("invite_guest")
    if triage and status is S.IN_SESSION:
        allowed += ["admit", "record"]
    return allowed


def signing_statuses(draft: Decision) -> frozenset[CaseStatus]:
    """A first decision is signed during the session; an amendment once decided."""
    return AMENDING_STATUSES if draft.amends_id is not None else frozenset({S.IN_SESSION})


__all__ = [
    "AMENDING_STATUSES",
    "CALL_STATUSES",
    "DRAFTING_STATUSES",
    "OPEN_STATUSES",
    "TRANSITIONS",
    "Transition",
    "allowed_actions",
    "open_draft",
    "require_open",
    "signing_statuses",
]
