"""The case log's hooks run inside the change's transaction: what they write commits with
the change, and a hook that fails takes the change down with it (nothing half-stored, as
the notifications written by such a hook must never be lost or orphaned)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from telemed import appkeys
from telemed.accounts.principal import Actor
from telemed.cases.log import CaseLog, Change
from telemed.cases.models import Case
from tests.support.audit import audit_rows
from tests.support.cases import create_case
from tests.support.server import RunningServer


class Seen:
    def __init__(self, fail: bool) -> None:
        self.fail = fail
        self.events: list[str] = []

    async def staged(self, change: Change) -> None:
        self.events += [event["type"] for event in change.events]
        # The change's own row is visible here: the hook is inside its transaction.
        assert change.case.last_seq == change.events[-1]["seq"]
        if self.fail:
            raise RuntimeError("the hook failed")


async def _last_seq(server: RunningServer, case_id: int) -> int:
    async with server.app[appkeys.SESSIONMAKER]() as db:
        return int(await db.scalar(select(Case.last_seq).where(Case.id == case_id)) or 0)


async def test_a_hook_sees_the_events_before_the_commit_and_its_failure_refuses_the_change(
    server: RunningServer, database_url: str
) -> None:
    signed = await server.sign_in("bs.namcan")
    case_id = int((await create_case(signed))["id"])
    principal = await server.app[appkeys.AUTH_SERVICE].authenticate(signed.token)
    actor = Actor(principal, "127.0.0.1", "test-hooks")
    work, clock = server.app[appkeys.AUDITED_WORK], server.app[appkeys.CLOCK]

    passing = Seen(fail=False)
    log = CaseLog(work, clock, hooks=(passing,))
    async with log.change(actor, "note.create", case_id) as change:
        await change.append("note.created", {"note": {"body": "x"}})
    assert passing.events == ["note.created"]
    assert await _last_seq(server, case_id) == 2

    failing = Seen(fail=True)
    log = CaseLog(work, clock, hooks=(failing,))
    with pytest.raises(RuntimeError, match="the hook failed"):
        async with log.change(actor, "note.create", case_id) as change:
            await change.append("note.created", {"note": {"body": "y"}})
    assert failing.events == ["note.created"]
    # The event is rolled back with the hook's failure; the trail says the change failed.
    assert await _last_seq(server, case_id) == 2
    rows = await audit_rows(database_url)
    assert (rows[-1]["action"], rows[-1]["outcome"]) == ("note.create", "error")

    # A change that appends nothing calls no hook.
    async with log.change(actor, "case.read", case_id):
        pass
