"""Who may see and do what on a case. Pure rules on a principal and a case.

A case the principal may not see is reported as ``NotFound``, exactly as a case that does
not exist; an action they may not take on a case they can see is ``Forbidden``.
"""

from __future__ import annotations

from telemed.accounts.models import CouncilRole, UserRole
from telemed.accounts.principal import Principal
from telemed.cases.models import Case
from telemed.errors import Forbidden, NotFound

CASE_NOT_FOUND = "No such case."
TRIAGE_ROLES = frozenset({CouncilRole.CHAIR, CouncilRole.SECRETARY})


def is_requester_side(principal: Principal, case: Case) -> bool:
    return (
        principal.role is UserRole.DISTRICT_DOCTOR
        and principal.facility is not None
        and principal.facility.id == case.requesting_facility_id
    )


def council_role(principal: Principal, case: Case) -> CouncilRole | None:
    seat = principal.seat(case.council_id)
    return seat.council_role if seat else None


def is_participant_side(principal: Principal, case: Case) -> bool:
    """May read the clinical content: the requesting facility or the asked council."""
    return is_requester_side(principal, case) or council_role(principal, case) is not None


def can_see(principal: Principal, case: Case) -> bool:
    return principal.role is UserRole.ADMIN or is_participant_side(principal, case)


def require_visible(principal: Principal, case: Case | None) -> Case:
    if case is None or not can_see(principal, case):
        raise NotFound(CASE_NOT_FOUND)
    return case


def require_clinical(principal: Principal, case: Case | None) -> Case:
    """The case, if the principal may read its clinical content (not only its metadata)."""
    case = require_visible(principal, case)
    if not is_participant_side(principal, case):
        raise Forbidden("Clinical content is visible to the case's participants only.")
    return case


def require_identity(principal: Principal, case: Case | None) -> Case:
    """The case, if the principal may see who the patient is: its participants only. To
    anyone else (an auditor, a guest, another council) it answers as a missing case."""
    if case is None or not is_participant_side(principal, case):
        raise NotFound(CASE_NOT_FOUND)
    return case


def may_follow_board(principal: Principal, case: Case) -> bool:
    """May follow the case's board (room, call, attachments): its participants, or a guest
    specialist invited to this one case."""
    if principal.is_guest:
        return case.id == principal.guest_case_id
    return is_participant_side(principal, case)


def require_board(principal: Principal, case: Case | None) -> Case:
    """The case, if the principal may follow its board; to a guest every other case is a
    stranger's."""
    if principal.is_guest:
        if case is None or not may_follow_board(principal, case):
            raise NotFound(CASE_NOT_FOUND)
        return case
    return require_clinical(principal, case)


def require_triage(principal: Principal, case: Case) -> None:
    if council_role(principal, case) not in TRIAGE_ROLES:
        raise Forbidden("Only the council's chair or secretary may do this.")


def require_requester(principal: Principal, case: Case) -> None:
    if not is_requester_side(principal, case):
        raise Forbidden("Only the requesting facility's doctors may do this.")


def require_council_member(principal: Principal, case: Case) -> None:
    if council_role(principal, case) is None:
        raise Forbidden("Only members of the asked council may do this.")
