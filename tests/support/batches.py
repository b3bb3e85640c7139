"""Running units of work side by side in one group-commit batch (telemed/db/batches.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from telemed import appkeys
from telemed.accounts.principal import Actor
from telemed.db.batches import Batches
from tests.support.server import RunningServer


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
