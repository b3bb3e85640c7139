"""The case log's one writer: every change to a case, its events and its audit row.

``change`` opens the audited unit, locks the case and applies the access rule before any
work; ``Change.append`` writes events (their JSON shaped here alone); the hooks given to the
constructor run inside the transaction, after the work, when it appended events (what must
be stored with the change: its notifications); after the commit the events go to the
listeners subscribed in the application factory. A refused or failed
change rolls back, publishes nothing and leaves its ``denied``/``error`` audit row.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Protocol

from telemed.accounts.principal import Actor, Principal
from telemed.audit.work import AuditedWork, Unit
from telemed.cases import access
from telemed.cases.models import Case
from telemed.cases.repository import CaseRepository
from telemed.clock import Clock
from telemed.shapes import Json, actor_json, iso

log = logging.getLogger(__name__)

# Given the principal and the case row (None when there is no such case), returns the case
# or raises the refusal; ``access.require_*`` are such rules.
Rule = Callable[[Principal, Case | None], Case]


class CommittedListener(Protocol):
    async def committed(self, events: list[Json]) -> None:
        """Called after each commit with its events in seq order (never empty)."""
        ...


class ChangeHook(Protocol):
    async def staged(self, change: Change) -> None:
        """Called in the change's transaction once its work is done, if it appended events.
        What it writes commits with the change; what it raises refuses the change."""
        ...


@dataclass
class Change:
    """One change in progress: its unit, the locked case and the events appended so far."""

    unit: Unit
    repo: CaseRepository
    principal: Principal
    clock: Clock
    _case: Case | None
    events: list[Json] = field(default_factory=list)

    @property
    def case(self) -> Case:
        assert self._case is not None, "no case yet: call begin() with the new case"
        return self._case

    def begin(self, case: Case) -> None:
        """A change that creates its case names it once the row has its id."""
        self._case = case
        self.unit.entry.case_id = case.id

    async def append(self, type_: str, data: Json) -> Json:
        """Append the case's next event; its JSON exactly as the room receives it.

        Guests have no account: their events name no actor and carry the guest in
        ``data`` instead, as the board shows it on replay.
        """
        case, principal = self.case, self.principal
        if principal.is_guest:
            data = {**data, "guest": actor_json(principal)}
        # Guests and the system (a deadline reached) have no account to name.
        anonymous = principal.is_guest or principal.is_system
        at = self.clock.now()
        seq = await self.repo.next_seq(case, at)
        event: Json = {
            "case_id": case.id,
            "seq": seq,
            "type": type_,
            "actor": None if anonymous else actor_json(principal),
            "at": iso(at),
            "data": data,
        }
        actor_id = None if anonymous else principal.user_id
        self.repo.insert_event(event, actor_id, at)
        self.events.append(event)
        return event


class CaseLog:
    def __init__(self, work: AuditedWork, clock: Clock, hooks: tuple[ChangeHook, ...] = ()) -> None:
        self._work = work
        self._clock = clock
        self._hooks = hooks
        self._listeners: list[CommittedListener] = []

    def subscribe(self, listener: CommittedListener) -> None:
        self._listeners.append(listener)

    @asynccontextmanager
    async def change(
        self,
        actor: Actor,
        action: str,
        case_id: int | None,
        *,
        rule: Rule = access.require_clinical,
        object_id: str | None = None,
    ) -> AsyncIterator[Change]:
        """A change to case ``case_id`` (None: the change creates its case)."""
        async with self._work(actor, action, case_id=case_id, object_id=object_id) as unit:
            repo = CaseRepository(unit.db)
            case = None
            if case_id is not None:
                case = rule(actor.user, await repo.get(case_id, for_update=True))
            change = Change(unit, repo, actor.user, self._clock, case)
            yield change
            if change.events:
                for hook in self._hooks:
                    await hook.staged(change)
        if change.events:
            await self._publish(change.events)

    async def _publish(self, events: list[Json]) -> None:
        for listener in self._listeners:
            try:
                await listener.committed(events)
            except Exception:
                # The change is committed: a listener's failure is its own, never the writer's.
                log.exception("a listener of committed case events failed")
