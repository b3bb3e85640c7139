"""Who the patient is: sealed at rest, shown to the case's participants only, every read
audited as ``case.identity.view``.

The pseudonymous code stays the case's name everywhere else. The identity lives in its own
table (``case_identities``), never in the case row or its events: the event of a change,
``case.identity_updated``, names the fields that changed and nothing they hold, because the
event log is public to the participants' boards, the notifications and the replay.
"""

from __future__ import annotations

from datetime import datetime

from telemed.accounts.principal import Actor, Principal
from telemed.audit.log import AuditEntry
from telemed.audit.work import AuditedWork, Unit
from telemed.cases import access
from telemed.cases.identity_cipher import IdentityCipher
from telemed.cases.log import CaseLog, Change
from telemed.cases.models import Case, CaseIdentity
from telemed.cases.repository import CaseFilter, CaseRepository
from telemed.cases.schemas import IDENTITY_FIELDS, PatientIdentity
from telemed.cases.search_text import words as search_words
from telemed.cases.workflow import OPEN_STATUSES, require_open
from telemed.shapes import Json

IDENTITY_VIEW = "case.identity.view"
IDENTITY_UPDATE = "case.identity.update"


async def matching_identities(
    repo: CaseRepository, cipher: IdentityCipher, wanted: CaseFilter
) -> list[int]:
    """The cases in ``wanted`` (the reader's scope: a district's own cases, a council's)
    whose identity holds each of ``wanted.words`` as the start of one of its words.

    The identity is sealed, so no index can hold it: each identity in scope is opened and
    folded here, in memory (microseconds each), and nothing of it leaves this function
    but the ids that match. A search is audited as ``case.search``; what matched is not a
    reveal (the reader typed it), and the list shows the pseudonymous code only.
    """
    found: list[int] = []
    for case_id, sealed in await repo.sealed_identities(wanted):
        held = search_words(" ".join(cipher.open(case_id, sealed).values()))
        if all(any(word.startswith(w) for word in held) for w in wanted.words):
            found.append(case_id)
    return found


async def read_identity(
    repo: CaseRepository, cipher: IdentityCipher, case_id: int
) -> dict[str, str] | None:
    row = await repo.identity(case_id)
    return None if row is None else cipher.open(case_id, row.sealed)


async def reveal_in(
    unit: Unit, repo: CaseRepository, cipher: IdentityCipher, principal: Principal, case: Case
) -> dict[str, str] | None:
    """The identity for a record the principal reads in ``unit`` (the minutes, FHIR): only
    for a participant, and each identity shown leaves its own audit row in the same unit."""
    if not access.is_participant_side(principal, case):
        return None
    identity = await read_identity(repo, cipher, case.id)
    if identity is not None:
        unit.also.append(AuditEntry(IDENTITY_VIEW, case.id))
    return identity


async def store_identity(
    change: Change, cipher: IdentityCipher, fields: dict[str, str], at: datetime
) -> list[str]:
    """Store ``fields`` as the case's identity (none: no identity); the names of the fields
    that changed, for the caller's ``case.identity_updated`` event (empty: no change)."""
    case, repo = change.case, change.repo
    row = await repo.identity(case.id)
    before = {} if row is None else cipher.open(case.id, row.sealed)
    changed = [name for name in IDENTITY_FIELDS if before.get(name) != fields.get(name)]
    if not changed:
        return []
    if not fields:
        assert row is not None
        await repo.remove(row)
    elif row is None:
        repo.add(CaseIdentity(case_id=case.id, sealed=cipher.seal(case.id, fields), updated_at=at))
    else:
        row.sealed, row.updated_at = cipher.seal(case.id, fields), at
    await repo.flush()
    return changed


def _editable(principal: Principal, case: Case) -> bool:
    return access.is_requester_side(principal, case) and case.status in OPEN_STATUSES


class IdentityService:
    def __init__(self, case_log: CaseLog, work: AuditedWork, cipher: IdentityCipher) -> None:
        self._log = case_log
        self._work = work
        self._cipher = cipher

    async def reveal(self, actor: Actor, case_id: int) -> Json:
        """The identity, to the case's participants; to anyone else, as a missing case."""
        async with self._work(actor, IDENTITY_VIEW, case_id=case_id) as unit:
            repo = CaseRepository(unit.db)
            case = access.require_identity(actor.user, await repo.get(case_id))
            identity = await read_identity(repo, self._cipher, case.id)
            return _answer(case, identity, editable=_editable(actor.user, case))

    async def update(self, actor: Actor, case_id: int, identity: PatientIdentity) -> Json:
        """Replace the identity (the requesting doctors, while the case is open)."""
        async with self._log.change(
            actor, IDENTITY_UPDATE, case_id, rule=access.require_identity
        ) as change:
            access.require_requester(actor.user, change.case)
            require_open(change.case)
            fields = identity.fields()
            changed = await store_identity(change, self._cipher, fields, change.clock.now())
            if changed:
                await change.append("case.identity_updated", {"fields": changed})
            return _answer(change.case, fields or None, editable=True)


def _answer(case: Case, identity: dict[str, str] | None, *, editable: bool) -> Json:
    return {"case_id": case.id, "identity": identity, "editable": editable}
