"""Persistence alone: notes from many cases, each durable and audited, through the case
service (no HTTP, no sockets), with group commit and, as the anchor in the same run,
with every unit committing alone (one fsync each, as before group commit).

    python -m bench.write_path_bench --backend sqlite|postgres [--notes 1000] [--cases 100]

Afterwards the audit chain is verified and every case's seqs are checked gap-free.
"""

from __future__ import annotations

import argparse
import asyncio
import time

from sqlalchemy import select

from bench.common import fresh_database, serve
from telemed import appkeys
from telemed.accounts.demo import DEMO_PASSWORD
from telemed.accounts.principal import Actor
from telemed.audit.verify import ChainVerifier
from telemed.cases.models import CaseEvent
from telemed.cases.schemas import NewCase, NewNote
from telemed.db.batches import Batches
from tests.support.cases import NEW_CASE


async def run(backend: str, notes: int, cases: int, batched: bool) -> tuple[float, float]:
    """Notes per second and CPU milliseconds per note."""
    async with fresh_database(backend) as url, serve(url) as served:
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
        wall, cpu = time.perf_counter(), time.process_time()
        await asyncio.gather(
            *(
                service.add_note(doctor, ids[n % cases], NewNote(body=f"Ghi chú {n}"))
                for n in range(notes)
            )
        )
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        sessionmaker = app[appkeys.SESSIONMAKER]
        verified = await ChainVerifier(sessionmaker).verify()
        assert verified.ok, verified.reason
        async with sessionmaker() as db:
            rows = (await db.execute(select(CaseEvent.case_id, CaseEvent.seq))).all()
        seqs: dict[int, list[int]] = {}
        for case_id, seq in rows:
            seqs.setdefault(case_id, []).append(seq)
        for case_id, found in seqs.items():
            assert sorted(found) == list(range(1, len(found) + 1)), case_id
        assert sum(map(len, seqs.values())) == notes + cases  # every note and case.created
        return notes / wall, cpu / notes * 1000


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--notes", type=int, default=1000)
    parser.add_argument("--cases", type=int, default=100)
    args = parser.parse_args()
    alone, alone_cpu = await run(args.backend, args.notes, args.cases, batched=False)
    grouped, grouped_cpu = await run(args.backend, args.notes, args.cases, batched=True)
    print(f"backend {args.backend}, {args.notes} notes over {args.cases} cases")
    for name, rate, cpu in (
        ("each unit committing alone (anchor)", alone, alone_cpu),
        ("group commit", grouped, grouped_cpu),
    ):
        print(f"  {name:37} {rate:8.0f} notes/s, {cpu:.2f} ms CPU/note")
    print(f"  ratio: {grouped / alone:.1f}x the anchor")


if __name__ == "__main__":
    asyncio.run(main())
