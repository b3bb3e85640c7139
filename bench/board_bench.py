"""The board of a large case, a page of its earlier notes, and joining its room with a
replay of 1,000 missed events, against a bare python-socketio server doing the last.

    python -m bench.board_bench --backend sqlite|postgres [--events 10000] [--runs 30]

A real Telemed server (fresh database, loopback port) gets one case of ``--events`` events:
the case's creation and its notes, posted through the HTTP API by 32 writers. Then, one
request at a time, ``--runs`` times each:

- ``GET /api/v1/cases/{id}``: the board with its latest notes (issue 14: p50 <= 20 ms);
- ``GET /api/v1/cases/{id}/notes?before=...``: the page of notes under the board's;
- ``case:join`` with ``after_seq`` 1,000 below the head, by a Socket.IO client that has
  signed in, then ``case:leave`` (issue 14: p50 <= 50 ms).

The anchor: bench/bare_broadcast_server.py in this process, given as many notes through
``case:note``, answers the same ``case:join`` from memory (no sign-in, authorization,
database, audit). Its time is what the transport alone costs for the same replay; the
ratio of the two is printed.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import socketio

from bench.bare_broadcast_server import create_app as create_bare_app
from bench.cases_bench import new_case, timed_get, write_notes
from bench.common import fresh_database, listening, serve, sign_in, summary_ms

REPLAYED = 1000


async def timed(runs: int, once: Callable[[], Awaitable[None]]) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        await once()
        times.append(time.perf_counter() - started)
        await asyncio.sleep(0.2)  # within the socket's message rate (20/s), outside the time
    return times


@asynccontextmanager
async def socket_client(url: str, token: str | None = None) -> AsyncIterator[socketio.AsyncClient]:
    sio = socketio.AsyncClient(reconnection=False)
    await sio.connect(url, transports=["websocket"], auth={"token": token} if token else None)
    try:
        yield sio
    finally:
        await sio.disconnect()


async def join_times(
    sio: socketio.AsyncClient, case_id: int, last_seq: int, runs: int
) -> list[float]:
    request = {"case_id": case_id, "after_seq": last_seq - REPLAYED}

    async def once() -> None:
        ack = await sio.call("case:join", request, timeout=60)
        assert ack["ok"], ack
        assert len(ack["events"]) == REPLAYED
        await sio.call("case:leave", {"case_id": case_id}, timeout=60)

    return await timed(runs, once)


async def bare_join(events: int, runs: int) -> list[float]:
    async with listening(create_bare_app()) as url, socket_client(url) as sio:
        for n in range(events):
            await sio.call("case:note", {"case_id": 1, "body": f"Ghi chú {n}"}, timeout=60)
        return await join_times(sio, 1, events, runs)


async def run(backend: str, events: int, runs: int) -> dict[str, Any]:
    async with (
        fresh_database(backend) as url,
        serve(url) as served,
        aiohttp.ClientSession(served.url) as http,
    ):
        auth = await sign_in(http, "bs.namcan")
        case_id = await new_case(http, auth)
        await write_notes(http, auth, case_id, events - 1, 32)
        path = f"/api/v1/cases/{case_id}"
        async with http.get(path, headers=auth) as response:
            board = await response.json()
        assert board["last_seq"] == events, board["last_seq"]
        board_times = await timed_get(http, path, auth, runs)
        page = f"{path}/notes?before={board['notes_before']}"
        page_times = await timed_get(http, page, auth, runs)
        token = auth["Authorization"].removeprefix("Bearer ")
        async with socket_client(served.url, token) as sio:
            join = await join_times(sio, case_id, events, runs)
    bare = await bare_join(events, runs)
    return {
        "backend": backend,
        "board": board_times,
        "notes_page": page_times,
        "join": join,
        "bare_join": bare,
        "ratio": statistics.median(join) / statistics.median(bare),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    result = asyncio.run(run(args.backend, args.events, args.runs))
    print(f"backend: {result['backend']}, a case of {args.events} events")
    print(f"GET /cases/{{id}} (latest notes): {summary_ms(result['board'])}")
    print(f"GET /cases/{{id}}/notes (the page under them): {summary_ms(result['notes_page'])}")
    print(f"case:join replaying {REPLAYED} events, Telemed: {summary_ms(result['join'])}")
    bare = summary_ms(result["bare_join"])
    print(f"case:join replaying {REPLAYED} events, bare python-socketio: {bare}")
    print(f"join, Telemed / bare (p50): {result['ratio']:.2f}x")


if __name__ == "__main__":
    main()
