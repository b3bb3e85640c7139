"""From ``call:join`` to the first decoded frame: a mesh against the SFU.

    python -m bench.join_bench [--runs 5]

Needs root (Janus runs in a network namespace, as in the tests) and Debian's ``janus``.
A real Telemed server on a loopback port (SQLite), a real Janus started with the
configuration Telemed writes, and aiortc participants (a tone and a small moving picture
each) that negotiate only through Telemed, as in tests/signaling/test_sfu.py. For each
run, on a fresh case in session:

- **mesh, second participant**: the chair is in the call; a member sends ``call:join``;
  the time until the member decodes the chair's first video frame (directly, peer to
  peer).
- **SFU, third participant**: two are in the call (a mesh); a third joins, which moves the
  whole call to Janus; the time until the third decodes the chair's first frame through
  Janus.
- **SFU, fourth participant**: the call is already in Janus; a fourth joins; the same.

The clock starts just before the join request and stops when the frame is decoded, in
this process. Results go in docs/performance.md.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from bench.common import fresh_database
from telemed.clock import ManualClock
from telemed.settings import Settings
from tests.support.callers import Caller, caller
from tests.support.cases import in_session_case
from tests.support.janus import RunningJanus, janus_in_namespace
from tests.support.netns import NetnsLab
from tests.support.server import RunningServer, running

JANUS_RTP_PORTS = (41000, 41999)
WAIT = 60.0


async def first_frame(person: Caller, seen: Callable[[], bool]) -> float:
    started = time.perf_counter()
    assert (await person.join_call())["state"] == "in_call"
    await person.who.until(seen, within=WAIT)
    return time.perf_counter() - started


def decoded(person: Caller, peer_id: str) -> bool:
    return peer_id in person.frames and person.frames[peer_id]["video"] >= 1


def decoded_through_sfu(person: Caller, peer_id: str) -> bool:
    return peer_id in person.sfu_frames and person.sfu_frames[peer_id]["video"] >= 1


async def one_run(server: RunningServer) -> dict[str, float]:
    made: list[Caller] = []
    try:
        case_id, _ = await in_session_case(server)
        chair = await caller(server, made, "gs.chutoa", case_id, 300)
        assert (await chair.join_call())["state"] == "in_call"
        second = await caller(server, made, "gs.timmach", case_id, 410)
        mesh = await first_frame(second, partial(decoded, second, chair.peer_id))
        third = await caller(server, made, "ts.thuky", case_id, 520)
        moving = await first_frame(third, partial(decoded_through_sfu, third, chair.peer_id))
        fourth = await caller(server, made, "bs.namcan", case_id, 630)
        joining = await first_frame(fourth, partial(decoded_through_sfu, fourth, chair.peer_id))
        return {"mesh, 2nd": mesh, "SFU, 3rd (moves the call)": moving, "SFU, 4th": joining}
    finally:
        for person in made:
            await person.close()


async def run(janus: RunningJanus, runs: int) -> None:
    results: dict[str, list[float]] = {}
    async with fresh_database("sqlite") as url:
        with tempfile.TemporaryDirectory() as tmp:
            settings = Settings(
                database_url=url,
                data_dir=Path(tmp),
                log_level="WARNING",
                session_idle_timeout=8 * 3600,
                janus_url=[janus.url],
                janus_api_secret=janus.api_secret,
                janus_admin_key=janus.admin_key,
                socket_rate_per_second=1000,
                socket_burst=1000,
            )
            async with running(settings, ManualClock()) as server:
                for n in range(runs):
                    figures = await one_run(server)
                    line = ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in figures.items())
                    print(f"run {n + 1}: {line}", flush=True)
                    for key, value in figures.items():
                        results.setdefault(key, []).append(value)
    print("\n| join | first decoded frame, median | min | max |")
    print("|---|---|---|---|")
    for key, values in results.items():
        low, middle, high = (f(values) * 1000 for f in (min, statistics.median, max))
        print(f"| {key} | {middle:.0f} ms | {low:.0f} ms | {high:.0f} ms |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    lab = NetnsLab()
    try:
        with (
            tempfile.TemporaryDirectory() as folder,
            janus_in_namespace(lab, Path(folder), JANUS_RTP_PORTS) as janus,
        ):
            asyncio.run(run(janus, max(1, min(args.runs, 50))))
    finally:
        lab.close()


if __name__ == "__main__":
    main()
