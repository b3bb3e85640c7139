"""Notes written through the HTTP API per second, the cost of auditing them, and the time
of reading the first 5,000 events of a case with 10,000 (the board of that case, and
joining its room: bench/board_bench.py).

    python -m bench.cases_bench --backend sqlite|postgres [--notes 10000] [--concurrency 16]

Auditing is switched off (the record call replaced by a no-op) only inside this benchmark,
to measure its cost as a ratio within one run.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

import aiohttp

from bench.common import Served, fresh_database, serve, sign_in, summary_ms
from telemed import appkeys
from tests.support.cases import NEW_CASE


async def write_notes(
    http: aiohttp.ClientSession, auth: dict[str, str], case_id: int, count: int, concurrency: int
) -> float:
    """Post ``count`` notes with ``concurrency`` writers; returns notes per second."""
    queue = iter(range(count))

    async def writer() -> None:
        for n in queue:
            async with http.post(
                f"/api/v1/cases/{case_id}/notes", json={"body": f"Ghi chú {n}"}, headers=auth
            ) as response:
                assert response.status == 201, await response.text()

    started = time.perf_counter()
    await asyncio.gather(*(writer() for _ in range(concurrency)))
    return count / (time.perf_counter() - started)


async def timed_get(
    http: aiohttp.ClientSession, path: str, auth: dict[str, str], runs: int
) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        async with http.get(path, headers=auth) as response:
            assert response.status == 200
            await response.read()
        times.append(time.perf_counter() - started)
    return times


async def audit_cost_rounds(
    served: Served, http: aiohttp.ClientSession, auth: dict[str, str], sample: int, concurrency: int
) -> dict[str, float]:
    """Notes/s with auditing on and off, alternated over 3 rounds; the median of each."""
    audit_log = served.app[appkeys.AUDIT_LOG]
    real_record = audit_log.record

    async def no_record(*_: object, **__: object) -> Any:
        return None

    rates: dict[str, list[float]] = {"audited": [], "unaudited": []}
    try:
        for _ in range(3):
            for mode in ("audited", "unaudited"):
                recorder = real_record if mode == "audited" else no_record
                audit_log.record = recorder  # type: ignore[method-assign]
                case_id = await new_case(http, auth)
                rates[mode].append(await write_notes(http, auth, case_id, sample, concurrency))
    finally:
        audit_log.record = real_record  # type: ignore[method-assign]
    return {mode: sorted(values)[1] for mode, values in rates.items()}


async def new_case(http: aiohttp.ClientSession, auth: dict[str, str]) -> int:
    async with http.post("/api/v1/cases", json=NEW_CASE, headers=auth) as response:
        return int((await response.json())["id"])


async def run(backend: str, notes: int, concurrency: int, audit_sample: int) -> dict[str, Any]:
    async with (
        fresh_database(backend) as url,
        serve(url) as served,
        aiohttp.ClientSession(served.url) as http,
    ):
        auth = await sign_in(http, "bs.namcan")
        rates = await audit_cost_rounds(served, http, auth, audit_sample, concurrency)
        big = await new_case(http, auth)
        throughput = await write_notes(http, auth, big, notes - 1, concurrency)
        replay = await timed_get(http, f"/api/v1/cases/{big}/events?after=0&limit=5000", auth, 10)
    return {
        "backend": backend,
        "notes_per_second": throughput,
        "audited_notes_per_second": rates["audited"],
        "unaudited_notes_per_second": rates["unaudited"],
        "audit_cost": 1 - rates["audited"] / rates["unaudited"],
        "events_page_5000": summary_ms(replay),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--notes", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--audit-sample", type=int, default=600)
    args = parser.parse_args()
    result = asyncio.run(run(args.backend, args.notes, args.concurrency, args.audit_sample))
    print(f"backend: {result['backend']}")
    rate = result["notes_per_second"]
    print(f"notes/s through HTTP ({args.concurrency} writers, one case): {rate:.0f}")
    print(
        f"median of 3 rounds: audited {result['audited_notes_per_second']:.0f} notes/s, "
        f"unaudited {result['unaudited_notes_per_second']:.0f} notes/s, "
        f"auditing costs {result['audit_cost'] * 100:.1f}%"
    )
    print(f"GET /cases/{{id}}/events, first 5000: {result['events_page_5000']}")


if __name__ == "__main__":
    main()
