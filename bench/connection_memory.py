"""Memory per idle joined Socket.IO connection: Telemed against bare python-socketio.

Issue 14's target is Telemed's resident memory per idle *joined* connection (a signed-in
client that joined a case room) at most bare python-socketio's + 5 KiB. For each target
(a ``telemed serve`` subprocess on a fresh SQLite database, then
bench/bare_broadcast_server.py), with the clients and servers of bench/rooms_bench.py:

1. connects ``--warmup`` clients and joins each to a case room, so that what the first
   connections pay once (imports done lazily, caches, the allocator's first arenas) is
   paid before the measurement;
2. reads the server's RSS, connects and joins ``--clients`` more, waits for the server to
   settle, reads its RSS again.

KiB per connection is the second step's growth divided by its clients (the marginal cost
of one more connection). The rooms benchmark's figure (RSS after all joins minus RSS
before any connection) is printed beside it. ``--runs K`` repeats both targets K times
and reports the median.

    .venv/bin/python bench/connection_memory.py
    .venv/bin/python bench/connection_memory.py --clients 500 --runs 3

Everything runs on loopback and is bounded in time and count.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bench.rooms_bench import (
    Client,
    Process,
    Target,
    connect_all,
    join_all,
    raise_open_files,
    rss_bytes,
    start_bare,
    start_telemed,
    stop,
)

SETTLE_SECONDS = 2.0


@dataclass
class Footprint:
    target: str
    clients: int
    rss_mib: float
    # RSS growth over the measured clients, per client (after the warm-up).
    marginal: float
    # RSS after every join minus RSS before the first connection, per client (as the rooms
    # benchmark reports it).
    from_start: float


async def measure(target: Target, process: Process, warmup: int, count: int) -> Footprint:
    clients: list[Client] = []
    try:
        await asyncio.sleep(1.0)
        start = rss_bytes(target.pid)
        clients = await connect_all(target, warmup)
        await join_all(target, clients)
        await asyncio.sleep(SETTLE_SECONDS)
        before = rss_bytes(target.pid)
        measured = await connect_all(target, count)
        await join_all(target, measured)
        clients += measured
        await asyncio.sleep(SETTLE_SECONDS)
        after = rss_bytes(target.pid)
        return Footprint(
            target.name,
            count,
            after / 2**20,
            (after - before) / count,
            (after - start) / len(clients),
        )
    finally:
        await stop(clients, process)


async def run_target(name: str, args: argparse.Namespace) -> Footprint:
    with tempfile.TemporaryDirectory() as tmp:
        if name == "telemed":
            url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
            target, process = await start_telemed(url, Path(tmp) / "data", args.rooms)
        else:
            target, process = await start_bare(args.rooms)
        return await measure(target, process, args.warmup, args.clients)


def kib(value: float) -> str:
    return f"{value / 1024:.1f} KiB"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=400, help="measured connections")
    parser.add_argument("--warmup", type=int, default=50, help="connections before measuring")
    parser.add_argument("--rooms", type=int, default=50)
    parser.add_argument("--runs", type=int, default=1, help="repeat both targets")
    args = parser.parse_args()
    args.clients = max(50, min(args.clients, 1000))
    args.warmup = max(1, min(args.warmup, 200))
    args.rooms = max(1, min(args.rooms, 200))
    runs = max(1, min(args.runs, 5))
    raise_open_files(4 * (args.clients + args.warmup) + 1024)
    results: dict[str, list[Footprint]] = {"telemed": [], "bare": []}
    for run in range(1, runs + 1):
        for name in results:
            footprint = await run_target(name, args)
            results[name].append(footprint)
            print(
                f"run {run}/{runs} {name:8s} {footprint.clients} joined clients "
                f"(+{args.warmup} warm-up) in {args.rooms} rooms: RSS {footprint.rss_mib:.0f} MiB, "
                f"{kib(footprint.marginal)} per connection "
                f"({kib(footprint.from_start)} counted from before the first connection)"
            )
    telemed = statistics.median(f.marginal for f in results["telemed"])
    bare = statistics.median(f.marginal for f in results["bare"])
    print(
        f"\nper idle joined connection (median of {runs}, load average "
        f"{os.getloadavg()[0]:.1f}): telemed {kib(telemed)}, bare {kib(bare)}, "
        f"difference {kib(telemed - bare)}, ratio {telemed / bare:.2f}"
    )


if __name__ == "__main__":
    asyncio.run(main())
