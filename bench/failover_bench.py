"""Failover benchmark: one of two Telemed processes killed (SIGKILL) under load, in the
production topology of docs/deployment.md (nginx with TLS from deploy/, PostgreSQL,
Redis, coturn), exactly as tests/ops/test_failover.py runs it.

``--clients`` Socket.IO clients, each from an address of its own so that nginx's
``ip_hash`` spreads them over both processes, in ``--cases`` case rooms, post ``--notes``
notes each (one every ``--pace`` seconds, each with a ``client_id``, sent again until
acknowledged); two more are in a call. When ``--kill-at`` of the notes are acknowledged,
the callers' process is killed. Per run it prints the clients that dropped, their
reconnect time (from the client's disconnect to its ``case:join`` acknowledged on the
other process; and from the kill), the notes acknowledged, lost and stored twice, and the
phases' durations.

    .venv/bin/python -m bench.failover_bench                 # 100 clients, 3 notes, 1 run
    .venv/bin/python -m bench.failover_bench --clients 200 --notes 5 --runs 5

Needs PostgreSQL on 127.0.0.1:5432, Redis on 127.0.0.1:6379, nginx and coturn.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
from pathlib import Path

from bench.common import fresh_database
from tests.support.failover import Outcome, kill_one_under_load, percentile
from tests.support.topology import running_topology

REDIS_URL = "redis://127.0.0.1:6379/0"


async def one_run(args: argparse.Namespace) -> Outcome:
    async with fresh_database("postgres") as database_url:
        with tempfile.TemporaryDirectory() as tmp:
            async with running_topology(
                Path(tmp),
                database_url=database_url,
                redis_url=REDIS_URL,
                nginx="/usr/sbin/nginx",
                turnserver="turnserver",
            ) as topology:
                return await kill_one_under_load(
                    topology,
                    clients=args.clients,
                    notes=args.notes,
                    pace=args.pace,
                    cases=args.cases,
                    kill_at=args.kill_at,
                    within=120.0,
                )


def report(run: int, outcome: Outcome) -> None:
    figures = outcome.summary()
    phases = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in outcome.phases.items())
    print(
        f"run {run}: {figures['dropped']} of {figures['clients']} clients dropped "
        f"(the killed process held {outcome.victim_held}); reconnect p50 "
        f"{figures['reconnect_p50_s']} s, p99 {figures['reconnect_p99_s']} s, of which the "
        f"new connection p50 {figures['connect_p50_s']} s "
        f"(from the kill: p50 {figures['since_kill_p50_s']} s, p99 "
        f"{figures['since_kill_p99_s']} s); notes acked {figures['notes_acked']}, "
        f"lost {figures['notes_lost']}, stored twice {figures['notes_duplicated']}, "
        f"sent again {figures['resent']} (by survivors {outcome.survivors_resent}); "
        f"gaps {outcome.gaps}, duplicate deliveries {outcome.duplicate_deliveries}, "
        f"clients behind {outcome.behind}, callers together {outcome.callers_together}; "
        f"{phases}; load average {os.getloadavg()[0]:.1f}",
        flush=True,
    )


def failed(outcome: Outcome) -> bool:
    return bool(
        outcome.notes_lost
        or outcome.notes_duplicated
        or outcome.behind
        or outcome.gaps
        or outcome.duplicate_deliveries
        or outcome.survivors_resent
        or not outcome.callers_together
        or outcome.dropped != outcome.victim_held
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--notes", type=int, default=3, help="notes per client")
    parser.add_argument("--pace", type=float, default=0.4, help="seconds between a client's notes")
    parser.add_argument("--cases", type=int, default=10, help="case rooms")
    parser.add_argument("--kill-at", type=float, default=0.3, help="share of notes acked first")
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    args.clients = max(2, min(args.clients, 200))
    args.notes = max(1, min(args.notes, 20))
    args.cases = max(1, min(args.cases, args.clients))
    args.kill_at = max(0.0, min(args.kill_at, 0.9))
    runs = max(1, min(args.runs, 20))

    outcomes = []
    for run in range(1, runs + 1):
        outcome = await one_run(args)
        report(run, outcome)
        outcomes.append(outcome)

    reconnect = [s for o in outcomes for s in o.reconnect_seconds]
    since_kill = [s for o in outcomes for s in o.since_kill_seconds]
    print(
        f"\nall {runs} run(s), {len(reconnect)} reconnects: p50 "
        f"{statistics.median(reconnect or [0.0]):.3f} s, p99 "
        f"{percentile(reconnect, 0.99):.3f} s; from the kill p50 "
        f"{statistics.median(since_kill or [0.0]):.3f} s, p99 "
        f"{percentile(since_kill, 0.99):.3f} s; notes lost "
        f"{sum(o.notes_lost for o in outcomes)}, stored twice "
        f"{sum(o.notes_duplicated for o in outcomes)}"
    )
    bad = sum(1 for outcome in outcomes if failed(outcome))
    if bad:
        raise SystemExit(f"FAILED: {bad} run(s) lost, duplicated or left something behind")


if __name__ == "__main__":
    asyncio.run(main())
