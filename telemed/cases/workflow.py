"""The consultation's workflow: which action moves a case from which status and who may take
it, and from those same rules, what one user may do on a case now.

A case accepted is consulted in one of two modes (docs/api.md, "Status machine"): a live
session (accept, schedule, start_session, sign in session) or in writing (accept_written;
members give their opinions on the draft; sign once every member has, or the chair closed
the round). Scheduling turns a written case live; continue_in_writing turns a live one
written. A transition's guard refuses it where the mode does not fit.

The page offers exactly ``allowed_actions`` (docs/api.md): it holds no copy of these rules,
and the services still check every request.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from telemed.accounts.models import User
from telemed.accounts.principal import Principal
from telemed.cases import access
from telemed.cases.models import Case, CaseStatus, ConsultationMode, Decision, DecisionStatus
from telemed.errors import Conflict

S = CaseStatus
M = ConsultationMode

# Given a case in one of a transition's sources: why the transition does not apply to it
# now, or None. Read by allowed_actions (not offered) and the service (409 with the reason).
Guard = Callable[[Case], str | None]


def _live(case: Case) -> str | None:
    if case.mode is M.WRITTEN:
        return "The case is already consulted in writing."
    return None


def _open_round(case: Case) -> str | None:
    if case.mode is not M.WRITTEN:
        return "Only a written consultation has a round to close."
    if case.round_closed_at is not None:
        return "The written round is already closed."
    return None


@dataclass(frozen=True)
class Transition:
    sources: frozenset[CaseStatus]
    target: CaseStatus
    who: str  # "triage" (chair/secretary) or "requester"
    event: str  # the event type it writes
    needs: str | None = None  # the input field this action requires
    # The consultation mode the case is in afterwards (None: unchanged).
    mode: ConsultationMode | None = None
    guard: Guard | None = None

    def refusal(self, case: Case) -> str | None:
        """Why this transition cannot be taken on ``case`` (in one of its sources) now."""
        return self.guard(case) if self.guard is not None else None


TRANSITIONS: dict[str, Transition] = {
    # The chair chooses the mode on accepting: a live session (scheduled next) or a written
    # consultation (members answer on the board by ``answer_by``).
    "accept": Transition(
        frozenset({S.REQUESTED}), S.ACCEPTED, "triage", "case.accepted", mode=M.LIVE
    ),
    "accept_written": Transition(
        frozenset({S.REQUESTED}),
        S.ACCEPTED,
        "triage",
        "case.accepted",
        "answer_by",
        mode=M.WRITTEN,
    ),
    "decline": Transition(
        frozenset({S.REQUESTED, S.INFO_REQUESTED}), S.DECLINED, "triage", "case.declined", "reason"
    ),
    "request_info": Transition(
        frozenset({S.REQUESTED}), S.INFO_REQUESTED, "triage", "case.info_requested", "message"
    ),
    "provide_info": Transition(
        frozenset({S.INFO_REQUESTED}), S.REQUESTED, "requester", "case.info_provided", "message"
    ),
    # Scheduling a written consultation turns it into a live one; what was written stays.
    "schedule": Transition(
        frozenset({S.ACCEPTED, S.SCHEDULED}),
        S.SCHEDULED,
        "triage",
        "case.scheduled",
        "scheduled_at",
        mode=M.LIVE,
    ),
    # A live session that cannot happen (or stopped) continues in writing: a new round.
    "continue_in_writing": Transition(
        frozenset({S.ACCEPTED, S.SCHEDULED, S.IN_SESSION}),
        S.ACCEPTED,
        "triage",
        "case.continued_in_writing",
        "answer_by",
        mode=M.WRITTEN,
        guard=_live,
    ),
    # The chair stops waiting for the members who have not answered: signing may go ahead.
    "close_round": Transition(
        frozenset({S.ACCEPTED}), S.ACCEPTED, "triage", "case.round_closed", guard=_open_round
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


def allowed_actions(
    principal: Principal,
    case: Case,
    decisions: Sequence[Decision],
    awaiting: Mapping[int, User] | None = None,
) -> list[str]:
    """What ``principal`` may do on ``case`` now, given its ``decisions`` (creation order)
    and, for a written consultation, the council members whose opinion on the open draft
    is still awaited (by user id; see ``written.awaited``).

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
        if status in rule.sources
        and (triage if rule.who == "triage" else requester)
        and rule.refusal(case) is None
    ]
    if status in OPEN_STATUSES and (requester or seat is not None):
        allowed += ["note", "attach"]
    draft = open_draft(decisions)
    if triage:
        if status in DRAFTING_STATUSES or (status in AMENDING_STATUSES and draft is not None):
            allowed.append("draft_decision")
        if status in AMENDING_STATUSES and draft is None:
            allowed.append("amend_decision")
        if draft is not None and sign_refusal(case, draft, awaiting or {}, principal) is None:
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


def sign_refusal(
    case: Case, draft: Decision, awaiting: Mapping[int, User], signer: Principal
) -> str | None:
    """Why ``signer`` cannot sign ``draft`` now, or None. An amendment is signed once
    decided; a first decision during the session, or in a written consultation once every
    council member but the signer has given an opinion on this version, or the chair closed
    the round."""
    if draft.amends_id is not None:
        return None if case.status in AMENDING_STATUSES else f"The case is {case.status.value}."
    if case.status is S.IN_SESSION:
        return None
    if case.status is not S.ACCEPTED or case.mode is not M.WRITTEN:
        return (
            "A decision is signed during the session or at the end of a written consultation; "
            f"the case is {case.status.value}."
        )
    if case.round_closed_at is not None:
        return None
    missing = [u.full_name for uid, u in awaiting.items() if uid != signer.user_id]
    if not missing:
        return None
    return (
        f"The written round is still open: no opinion on version {draft.version} yet from "
        f"{', '.join(missing)}. Wait for them, or close the round to sign without them."
    )


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
    "sign_refusal",
]
