"""Reconnect and replay: a client that keeps dropping ends with exactly every event once."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable
from typing import Any

from telemed.clock import ManualClock
from telemed.settings import Settings
from tests.support.cases import create_case
from tests.support.participants import participant, reconnect
from tests.support.server import RunningServer

NOTES = 40


async def test_a_client_dropping_at_random_receives_every_event_exactly_once(
    make_settings: Callable[..., Settings], clock: ManualClock
) -> None:
    seed = random.randrange(1_000_000)
    rng = random.Random(seed)
    server = RunningServer(make_settings(socket_burst=1000, socket_rate_per_second=1000), clock)
    await server.start()
    try:
        doctor = await server.sign_in("bs.namcan")
        case: dict[str, Any] = await create_case(doctor)
        case_id: int = case["id"]
        poster = await participant(server, "gs.chutoa")
        steady = await participant(server, "ts.thuky")
        dropper = await participant(server, "gs.timmach")
        for who in (poster, steady, dropper):
            assert (await who.join(case_id))["ok"] is True

        posted = asyncio.Event()

        async def post() -> None:
            for n in range(NOTES):
                assert (await poster.note(case_id, f"Ghi chú {n}"))["ok"] is True
                if rng.random() < 0.3:
                    await asyncio.sleep(0)
            posted.set()

        async def drop_and_rejoin() -> None:
            while not posted.is_set():
                # Stay connected for a random number of received events (possibly none).
                target = len(dropper.log) + rng.randrange(0, 4)

                def stayed(target: int = target) -> bool:
                    return len(dropper.log) >= target or posted.is_set()

                with contextlib.suppress(AssertionError):
                    await dropper.until(stayed, within=5)
                await dropper.close()
                last = dropper.log[-1]["seq"] if dropper.log else 0
                await reconnect(server, dropper)
                ack = await dropper.join(case_id, after_seq=last)
                assert ack["ok"] is True, ack

        await asyncio.gather(post(), drop_and_rejoin())
        total = NOTES + 1
        await dropper.until(lambda: dropper.seqs(case_id)[-1:] == [total])
        assert dropper.seqs(case_id) == list(range(1, total + 1)), f"seed {seed}"
        await steady.until(lambda: len(steady.log) >= total)
        assert steady.seqs(case_id) == list(range(1, total + 1))
    finally:
        await server.close()
