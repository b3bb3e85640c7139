"""Audit trail at scale: a million rows, filtered review pages and verification speed.

    python -m bench.audit_bench --backend sqlite|postgres [--rows 1000000] [--runs 50]

Bulk-loads a chain with correct hashes into a fresh migrated database, then times a page
of 100 (newest first) by case, by actor and by a one-day time range through
``AuditRepository`` (the code the review API runs), and walks the chain with
``ChainVerifier``. Prints the figures; results go in docs/performance.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import secrets
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Table, insert, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from telemed.audit.chain import GENESIS_HASH, values_hash
from telemed.audit.models import AuditRecord
from telemed.audit.repository import AuditRepository
from telemed.audit.schemas import AuditFilters
from telemed.audit.verify import ChainVerifier
from telemed.db.engine import create_engine, create_sessionmaker
from telemed.db.migrations import upgrade

POSTGRES_URL = os.environ.get(
    "TELEMED_BENCH_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
START = datetime(2025, 1, 1, tzinfo=UTC)
SPAN = timedelta(days=365)
USERS = 500
CASES = 20_000
ACTIONS = ["case.read", "case.events", "note.create", "case.list", "attachment.upload"]
BATCH = 20_000


def generate(count: int, seed: int = 7) -> Iterator[list[dict[str, Any]]]:
    """Batches of chained rows: a year of activity by 500 users on 20,000 cases."""
    rng = random.Random(seed)
    step = SPAN / count
    prev_hash = GENESIS_HASH
    batch: list[dict[str, Any]] = []
    for seq in range(1, count + 1):
        user = rng.randrange(USERS)
        signing_in = seq % 40 == 0
        row: dict[str, Any] = {
            "seq": seq,
            "at": START + step * seq,
            "actor_id": user + 1,
            "actor_username": f"user{user:04d}",
            "actor_role": "council_member" if user % 3 else "district_doctor",
            "actor_facility": f"FAC-{user % 40:02d}",
            "address": f"10.{user % 250}.{seq % 250}.{user % 7 + 1}",
            "action": "auth.login" if signing_in else rng.choice(ACTIONS),
            "case_id": None if signing_in else rng.randrange(1, CASES + 1),
            "object_id": None if seq % 3 else str(seq),
            "outcome": "denied" if seq % 97 == 0 else "success",
            "request_id": secrets.token_hex(8),
            "prev_hash": prev_hash,
        }
        row["hash"] = prev_hash = values_hash(prev_hash, row)
        batch.append(row)
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


async def load(engine: AsyncEngine, count: int) -> float:
    started = time.perf_counter()
    for batch in generate(count):
        async with engine.begin() as connection:
            await connection.execute(insert(cast(Table, AuditRecord.__table__)), batch)
    async with engine.begin() as connection:
        await connection.execute(text("ANALYZE"))
    return time.perf_counter() - started


async def timed(runs: int, query: Callable[[int], Awaitable[int]]) -> tuple[float, float, int]:
    """p50 and p95 in milliseconds, and the smallest page seen."""
    durations, sizes = [], []
    await query(-1)  # warm the connection and the statement cache
    for run in range(runs):
        started = time.perf_counter()
        sizes.append(await query(run))
        durations.append((time.perf_counter() - started) * 1000)
    durations.sort()
    return statistics.median(durations), durations[int(len(durations) * 0.95) - 1], min(sizes)


def page_query(
    sessionmaker: async_sessionmaker[AsyncSession], filters: Callable[[random.Random], AuditFilters]
) -> Callable[[int], Awaitable[int]]:
    rng = random.Random(11)

    async def run(_: int) -> int:
        async with sessionmaker() as db, db.begin():
            rows = await AuditRepository(db).newest_first(filters(rng), None, 100)
        return len(rows)

    return run


def one_day(rng: random.Random) -> AuditFilters:
    since = START + timedelta(days=rng.randrange(364))
    return AuditFilters(since=since, until=since + timedelta(days=1))


async def bench(url: str, rows: int, runs: int) -> None:
    engine = create_engine(url)
    try:
        await upgrade(engine)
        seconds = await load(engine, rows)
        print(f"loaded {rows:,} chained rows in {seconds:.1f} s ({rows / seconds:,.0f} rows/s)")
        sessionmaker = create_sessionmaker(engine)
        cases: list[tuple[str, Callable[[random.Random], AuditFilters]]] = [
            ("by case", lambda rng: AuditFilters(case_id=rng.randrange(1, CASES + 1))),
            ("by actor", lambda rng: AuditFilters(actor=f"user{rng.randrange(USERS):04d}")),
            ("by time range (1 day)", one_day),
            (
                "by actor + outcome denied",
                lambda rng: AuditFilters(actor=f"user{rng.randrange(USERS):04d}", outcome="denied"),
            ),
            ("no filter", lambda rng: AuditFilters()),
        ]
        for name, filters in cases:
            p50, p95, smallest = await timed(runs, page_query(sessionmaker, filters))
            print(
                f"page of 100 {name:<28} p50 {p50:6.2f} ms  p95 {p95:6.2f} ms  "
                f"(smallest page {smallest})"
            )
        started = time.perf_counter()
        result = await ChainVerifier(sessionmaker).verify()
        seconds = time.perf_counter() - started
        assert result.ok, result
        assert result.rows == rows, result
        print(f"verify {rows:,} rows in {seconds:.1f} s: {rows / seconds:,.0f} rows/s")
    finally:
        await engine.dispose()


async def _admin(statement: str) -> None:
    engine = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(text(statement))
    finally:
        await engine.dispose()


async def main_async(backend: str, rows: int, runs: int) -> None:
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="audit-bench-") as directory:
            await bench(f"sqlite+aiosqlite:///{Path(directory) / 'bench.db'}", rows, runs)
        return
    name = f"telemed_audit_bench_{secrets.token_hex(4)}"
    await _admin(f'CREATE DATABASE "{name}"')
    try:
        url = make_url(POSTGRES_URL).set(database=name)
        await bench(url.render_as_string(hide_password=False), rows, runs)
    finally:
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.audit_bench", description=__doc__)
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    print(f"audit bench: {args.backend}, {args.rows:,} rows, {args.runs} runs per query")
    asyncio.run(main_async(args.backend, args.rows, args.runs))


if __name__ == "__main__":
    main()
