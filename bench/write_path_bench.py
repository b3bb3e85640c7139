"""Persistence alone: notes from many cases, each durable and audited, through the case
service (no HTTP, no sockets), with group commit and, as the anchor in the same run,
with every unit committing alone (one fsync each, as before group commit).

    python -m bench.write_path_bench --backend sqlite|postgres [--notes 1000] [--cases 100]
    python -m bench.write_path_bench --backend postgres --processes 2

With ``--processes N`` (N >= 2), the anchor is the same notes written by one process with
group commit, and the measured run splits them over N processes on the same database,
each with its own cases, started together: what the audit chain's lock (which every
process's batches take, telemed/db/batches.py) costs when processes write at once. Each
process reports how long its batches waited for their write turn and how long they held
it.

Afterwards the audit chain is verified and every case's seqs are checked gap-free.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import time
from dataclasses import dataclass
from multiprocessing.synchronize import Barrier

from sqlalchemy import select

from bench.common import fresh_database, serve
from telemed import appkeys
from telemed.accounts.demo import DEMO_PASSWORD
from telemed.accounts.principal import Actor
from telemed.audit.verify import ChainVerifier
from telemed.cases.models import CaseEvent
from telemed.cases.schemas import NewCase, NewNote
from telemed.db.batches import Batches
from telemed.db.engine import create_engine, create_sessionmaker
from tests.support.cases import NEW_CASE


@dataclass
class Written:
    notes: int
    wall: float  # seconds from the first note sent to the last acked
    cpu: float  # this process's CPU seconds meanwhile
    waited: float  # seconds its batches waited for their write turn
    held: float  # seconds its batches held it

    @property
    def rate(self) -> float:
        return self.notes / self.wall

    @property
    def cpu_ms(self) -> float:
        return self.cpu / self.notes * 1000


async def write(
    url: str, notes: int, cases: int, batched: bool, start: Barrier | None = None
) -> Written:
    """``notes`` notes over ``cases`` new cases, all at once, through the case service."""
    async with serve(url) as served:
        app = served.app
        work = app[appkeys.AUDITED_WORK]
        if not batched:
            # The anchor: every unit commits alone (a batch of at most one unit).
            work.batches = Batches(app[appkeys.SESSIONMAKER], max_units=1)
        anonymous = Actor(None, "127.0.0.1", "bench")
        login = await app[appkeys.AUTH_SERVICE].login("bs.namcan", DEMO_PASSWORD, anonymous)
        doctor = Actor(login.principal, "127.0.0.1", "bench")
        service = app[appkeys.CASE_SERVICE]
        ids = [
            (await service.create(doctor, NewCase.model_validate(NEW_CASE)))["id"]
            for _ in range(cases)
        ]
        if start is not None:
            await asyncio.to_thread(start.wait)
        batches = work.batches
        waited, held = batches.waited_seconds, batches.held_seconds
        wall, cpu = time.perf_counter(), time.process_time()
        await asyncio.gather(
            *(
                service.add_note(doctor, ids[n % cases], NewNote(body=f"Ghi chú {n}"))
                for n in range(notes)
            )
        )
        return Written(
            notes,
            time.perf_counter() - wall,
            time.process_time() - cpu,
            batches.waited_seconds - waited,
            batches.held_seconds - held,
        )


async def check(url: str, notes: int, cases: int) -> None:
    """The chain verifies; every case's seqs run from 1 without a gap; every note and every
    case.created is there."""
    engine = create_engine(url)
    try:
        sessionmaker = create_sessionmaker(engine)
        verified = await ChainVerifier(sessionmaker).verify()
        assert verified.ok, verified.reason
        async with sessionmaker() as db:
            rows = (await db.execute(select(CaseEvent.case_id, CaseEvent.seq))).all()
    finally:
        await engine.dispose()
    seqs: dict[int, list[int]] = {}
    for case_id, seq in rows:
        seqs.setdefault(case_id, []).append(seq)
    for case_id, found in seqs.items():
        assert sorted(found) == list(range(1, len(found) + 1)), case_id
    assert sum(map(len, seqs.values())) == notes + cases


async def alone(backend: str, notes: int, cases: int, batched: bool) -> Written:
    async with fresh_database(backend) as url:
        written = await write(url, notes, cases, batched)
        await check(url, notes, cases)
        return written


def _process(
    url: str, notes: int, cases: int, start: Barrier, results: multiprocessing.Queue[Written]
) -> None:
    results.put(asyncio.run(write(url, notes, cases, True, start)))


async def side_by_side(backend: str, notes: int, cases: int, processes: int) -> list[Written]:
    """The notes split over ``processes`` processes writing one database at once."""
    context = multiprocessing.get_context("spawn")
    async with fresh_database(backend) as url:
        start = context.Barrier(processes)
        results: multiprocessing.Queue[Written] = context.Queue()
        share, per_process = notes // processes, max(1, cases // processes)
        workers = [
            context.Process(target=_process, args=(url, share, per_process, start, results))
            for _ in range(processes)
        ]
        for worker in workers:
            worker.start()
        written = [await asyncio.to_thread(results.get, True, 600) for _ in workers]
        for worker in workers:
            await asyncio.to_thread(worker.join, 60)
            assert worker.exitcode == 0, worker.exitcode
        await check(url, share * processes, per_process * processes)
        return written


def line(name: str, written: Written) -> str:
    turn = ""
    if written.held:
        share = written.waited / (written.waited + written.held)
        turn = (
            f", waited {written.waited:.2f} s for the write turn ({share:.0%}),"
            f" held {written.held:.2f} s"
        )
    return f"  {name:37} {written.rate:8.0f} notes/s, {written.cpu_ms:.2f} ms CPU/note{turn}"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--notes", type=int, default=1000)
    parser.add_argument("--cases", type=int, default=100)
    parser.add_argument("--processes", type=int, default=1)
    args = parser.parse_args()
    print(f"backend {args.backend}, {args.notes} notes over {args.cases} cases")
    if args.processes < 2:
        anchor = await alone(args.backend, args.notes, args.cases, batched=False)
        grouped = await alone(args.backend, args.notes, args.cases, batched=True)
        print(line("each unit committing alone (anchor)", anchor))
        print(line("group commit", grouped))
        print(f"  ratio: {grouped.rate / anchor.rate:.1f}x the anchor")
        return
    anchor = await alone(args.backend, args.notes, args.cases, batched=True)
    print(line("one process (anchor)", anchor))
    written = await side_by_side(args.backend, args.notes, args.cases, args.processes)
    for n, each in enumerate(written, 1):
        print(line(f"process {n} of {args.processes}", each))
    total = sum(w.notes for w in written) / max(w.wall for w in written)
    ratio = total / anchor.rate
    print(f"  {args.processes} processes together: {total:.0f} notes/s, {ratio:.2f}x the anchor")


if __name__ == "__main__":
    asyncio.run(main())
