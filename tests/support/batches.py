"""Running units of work side by side in one group-commit batch (telemed/db/batches.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, NamedTuple

from telemed import appkeys
from telemed.accounts.principal import Actor
from telemed.audit.work import AuditedWork
from telemed.cases.schemas import NewNote
from telemed.cases.service import CaseService
from telemed.db.batches import Batches
from tests.support.cases import create_case
from tests.support.server import RunningServer, SignedIn


async def actor_of(server: RunningServer, username: str) -> Actor:
    signed = await server.sign_in(username)
    principal = await server.app[appkeys.AUTH_SERVICE].authenticate(signed.token)
    return Actor(principal, "127.0.0.1", f"test-{username}")


async def until(condition: Callable[[], bool]) -> None:
    """Let the loop run until ``condition`` holds (a handful of steps: no time involved)."""
    for _ in range(10_000):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("the condition never held")


Unit = Callable[[], Coroutine[Any, Any, Any]]


async def all_in_one_batch(
    batches: Batches, units: Sequence[Unit], *, committed: int = 1
) -> list[object]:
    """Run ``units`` queued behind one held turn, so that they share one transaction
    (``committed``: how many commits that makes, 0 when the batch is to fail)."""
    go = asyncio.Event()

    async def hold() -> None:
        async with batches.turn():
            await go.wait()

    holder = asyncio.create_task(hold())
    await until(lambda: batches.busy)
    tasks = [asyncio.create_task(unit()) for unit in units]
    await until(lambda: batches.waiting == len(units))
    before = batches.committed_batches
    go.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    (held,) = await asyncio.gather(holder, return_exceptions=True)
    if committed and isinstance(held, BaseException):
        raise held
    # One commit for all of them, the holder's included, on both backends.
    assert batches.committed_batches == before + committed, "the units did not run as batched"
    return results


class Batched(NamedTuple):
    """A new case of bs.namcan's to batch work on: the unit of work, the doctor's HTTP
    client, the doctor as an actor, the case and the case service."""

    work: AuditedWork
    doctor: SignedIn
    author: Actor
    case_id: int
    cases: CaseService


async def batched_case(server: RunningServer) -> Batched:
    doctor = await server.sign_in("bs.namcan")
    author = await actor_of(server, "bs.namcan")
    case_id = (await create_case(doctor))["id"]
    cases = server.app[appkeys.CASE_SERVICE]
    return Batched(server.app[appkeys.AUDITED_WORK], doctor, author, case_id, cases)


def between_notes(batched: Batched, unit: Unit) -> list[Unit]:
    """``unit`` after a note "before" and before a note "after" (by the case's author)."""
    _work, _doctor, author, case_id, cases = batched

    def note(body: str) -> Unit:
        return lambda: cases.add_note(author, case_id, NewNote(body=body))

    return [note("before"), unit, note("after")]
