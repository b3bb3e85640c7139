"""The minutes PDF of a large case: how long it takes, and how /healthz answers meanwhile.

    python -m bench.minutes_bench [--notes 100] [--chars 20000] [--backend sqlite|postgres]

A real server on a loopback port (in this process, like the other benchmarks), one district
doctor. The anchor is the PDF of the same case before its long notes (one page, each of 3
runs after a short note, so each is a new version): the large figures are also given as
ratios to it, and /healthz during the render as a ratio to /healthz just before it (200
requests), so runs on a loaded machine stay comparable. Everything goes through HTTP
only, so the same script measures an older commit too. The server's
settings come from the environment as usual (``TELEMED_PDF_MAX_DISCUSSION_CHARS``,
``TELEMED_PDF_TIMEOUT_SECONDS``, ...).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import statistics
import time
from typing import Any

import aiohttp
import pypdf

from bench.common import fresh_database, percentile, serve, sign_in, summary_ms
from tests.support.cases import NEW_CASE

# Vietnamese clinical prose, repeated to the wanted length: words and diacritics as in
# real notes, so the layout engine shapes and breaks lines as it would for a real case.
PROSE = (
    "Bệnh nhân nam 68 tuổi, đau ngực trái lan lên vai, vã mồ hôi, huyết áp 100/60 mmHg. "
    "Điện tâm đồ có ST chênh lên ở DII, DIII, aVF; troponin tăng gấp mười lần. "
)


def note_body(n: int, chars: int) -> str:
    text = f"Ghi chú {n}. " + PROSE * (chars // len(PROSE) + 1)
    return text[:chars]


async def add_note(
    http: aiohttp.ClientSession, case_id: int, auth: dict[str, str], body: str
) -> None:
    async with http.post(
        f"/api/v1/cases/{case_id}/notes", json={"body": body}, headers=auth
    ) as response:
        assert response.status == 201, await response.text()


async def healthz_once(http: aiohttp.ClientSession) -> float:
    started = time.perf_counter()
    async with http.get("/healthz") as response:
        assert response.status == 200, response.status
        await response.read()
    return time.perf_counter() - started


async def pdf_once(
    http: aiohttp.ClientSession, case_id: int, auth: dict[str, str]
) -> tuple[float, bytes]:
    """The time to receive the minutes PDF, and the PDF."""
    started = time.perf_counter()
    async with http.get(f"/api/v1/cases/{case_id}/minutes.pdf", headers=auth) as response:
        body = await response.read()
        assert response.status == 200, (response.status, body[:300])
    return time.perf_counter() - started, body


async def pdf_with_healthz(
    http: aiohttp.ClientSession, case_id: int, auth: dict[str, str]
) -> tuple[float, list[float], int]:
    """The PDF's time, the latency of every /healthz asked one after another meanwhile,
    and the PDF's pages (counted afterwards, not to block the loop the server shares)."""
    render = asyncio.create_task(pdf_once(http, case_id, auth))
    latencies: list[float] = []
    while not render.done():
        latencies.append(await healthz_once(http))
    elapsed, pdf = await render
    return elapsed, latencies, len(pypdf.PdfReader(io.BytesIO(pdf)).pages)


async def run(backend: str, notes: int, chars: int) -> dict[str, Any]:
    async with (
        fresh_database(backend) as url,
        serve(url) as served,
        aiohttp.ClientSession(served.url, timeout=aiohttp.ClientTimeout(total=None)) as http,
    ):
        auth = await sign_in(http, "bs.namcan")
        async with http.post("/api/v1/cases", json=NEW_CASE, headers=auth) as response:
            case_id = int((await response.json())["id"])
        await pdf_once(http, case_id, auth)  # WeasyPrint and the fonts load: not counted
        anchor = []
        for n in range(3):
            # A short note first: each anchor is a new version of the minutes, laid out anew.
            await add_note(http, case_id, auth, f"Ghi chú ngắn {n}.")
            anchor.append((await pdf_once(http, case_id, auth))[0])
        for n in range(notes):
            await add_note(http, case_id, auth, note_body(n, chars))
        idle = [await healthz_once(http) for _ in range(200)]
        large, during, pages = await pdf_with_healthz(http, case_id, auth)
        again, _ = await pdf_once(http, case_id, auth)
    return {
        "anchor": statistics.median(anchor),
        "large": large,
        "again": again,
        "pages": pages,
        "idle": idle,
        "during": during,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--notes", type=int, default=100)
    parser.add_argument("--chars", type=int, default=20_000)
    args = parser.parse_args()
    result = asyncio.run(run(args.backend, args.notes, args.chars))
    anchor, large, again = result["anchor"], result["large"], result["again"]
    idle, during = result["idle"], result["during"]
    print(f"anchor: minutes PDF of the case with a short note, median of 3: {anchor:.2f} s")
    size = f"{args.notes} notes x {args.chars} chars"
    ratio = large / anchor
    print(f"{size}: first PDF {large:.1f} s ({ratio:.0f}x), {result['pages']} pages")
    print(f"same case again: {again:.2f} s ({again / anchor:.2f}x)")
    print(f"/healthz just before: {summary_ms(idle)}, max {max(idle) * 1000:.1f} ms")
    print(f"/healthz during the first PDF: {summary_ms(during)}, max {max(during) * 1000:.1f} ms")
    p50 = statistics.median(during) / statistics.median(idle)
    p90 = percentile(during, 0.9) / percentile(idle, 0.9)
    print(f"/healthz during / before: p50 {p50:.1f}x, p90 {p90:.1f}x")


if __name__ == "__main__":
    main()
