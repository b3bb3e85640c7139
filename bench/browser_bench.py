"""What people feel in the browser: how long a note typed in one case room page takes to
appear in another, and what opening the case room costs on a slow hospital network.

    .venv/bin/python -m bench.browser_bench [--notes 30] [--loads 3]

Debian's Chromium (headless) against a real server on a loopback port, SQLite.

1. *Note to board*: the requesting doctor's and the chair's pages are open on one case in
   session. For each note, a MutationObserver in the chair's page stamps (``Date.now()``)
   the moment the note's element is added; the doctor's page stamps the click on
   "send". Both pages run in one browser on one machine, so the clocks are the same.
2. *Slow network*: a fresh page (no cache) opens the case room with Chromium's network
   emulation (DevTools ``Network.emulateNetworkConditions``): 1 Mbit/s down, 512 kbit/s
   up, 300 ms added round trip. Measured: the time from navigation to the live board
   (``connection-status`` is ``live`` and the summary is shown) and the bytes received
   (``encodedDataLength`` of every finished request, the websocket's frames not included).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from typing import Any

import aiohttp
from playwright.async_api import Browser, BrowserContext, Page, async_playwright, expect

from bench.common import fresh_database, percentile, serve, sign_in
from tests.browser.conftest import CHROMIUM_ARGS
from tests.support.cases import NEW_CASE

SLOW = {
    "offline": False,
    "latency": 300,
    "downloadThroughput": 1_000_000 / 8,
    "uploadThroughput": 512_000 / 8,
}

# In the chair's page: remember when each note element appears, by its text.
OBSERVE = """() => {
  window.benchSeen = {};
  new MutationObserver((changes) => {
    for (const change of changes) for (const node of change.addedNodes) {
      if (!(node instanceof Element)) continue;
      const notes = node.matches('[data-testid=note]') ? [node]
        : node.querySelectorAll('[data-testid=note]');
      for (const note of notes) {
        const text = note.querySelector('[data-testid=note-text]')?.textContent ?? '';
        if (!(text in window.benchSeen)) window.benchSeen[text] = Date.now();
      }
    }
  }).observe(document.body, { childList: true, subtree: true });
}"""

# In the doctor's page: type the note, then stamp and click in one step.
SEND = """(text) => {
  document.querySelector('[data-testid=note-body]').value = text;
  const at = Date.now();
  document.querySelector('[data-testid=note-submit]').click();
  return at;
}"""


async def signed_in_context(browser: Browser, url: str, username: str) -> BrowserContext:
    context = await browser.new_context(base_url=url)
    response = await context.request.post(
        "/api/v1/auth/login", data={"username": username, "password": "telemed-demo"}
    )
    assert response.ok, await response.text()
    return context


async def open_room(context: BrowserContext, case_id: int) -> Page:
    page = await context.new_page()
    await page.goto(f"/cases/{case_id}")
    await expect(page.get_by_test_id("connection-status")).to_have_attribute(
        "data-state", "live", timeout=60_000
    )
    return page


async def case_in_session(url: str) -> int:
    async with aiohttp.ClientSession(base_url=url) as http:
        doctor, chair = await sign_in(http, "bs.namcan"), await sign_in(http, "gs.chutoa")
        async with http.post("/api/v1/cases", json=NEW_CASE, headers=doctor) as response:
            case_id = int((await response.json())["id"])
        path = f"/api/v1/cases/{case_id}/transitions"
        for body in (
            {"action": "accept"},
            {"action": "schedule", "scheduled_at": "2036-01-02T09:00:00+07:00"},
            {"action": "start_session"},
        ):
            async with http.post(path, json=body, headers=chair) as response:
                assert response.status == 200, await response.text()
    return case_id


async def note_latencies(browser: Browser, url: str, case_id: int, notes: int) -> list[float]:
    doctor = await open_room(await signed_in_context(browser, url, "bs.namcan"), case_id)
    chair = await open_room(await signed_in_context(browser, url, "gs.chutoa"), case_id)
    await chair.evaluate(OBSERVE)
    latencies: list[float] = []
    for n in range(notes):
        text = f"Ghi chú đo thời gian số {n}"
        sent = float(await doctor.evaluate(SEND, text))
        deadline = time.monotonic() + 10
        seen: Any = None
        while seen is None:
            assert time.monotonic() < deadline, f"note {n} never appeared"
            await asyncio.sleep(0.02)
            seen = await chair.evaluate("(text) => window.benchSeen[text] ?? null", text)
        latencies.append((float(seen) - sent) / 1000)
        await asyncio.sleep(0.1)
    return latencies


async def slow_load(browser: Browser, url: str, case_id: int) -> tuple[float, int]:
    context = await signed_in_context(browser, url, "bs.namcan")
    page = await context.new_page()
    cdp = await context.new_cdp_session(page)
    received = 0

    def finished(event: dict[str, Any]) -> None:
        nonlocal received
        received += int(event.get("encodedDataLength", 0))

    cdp.on("Network.loadingFinished", finished)
    await cdp.send("Network.enable")
    await cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
    await cdp.send("Network.emulateNetworkConditions", SLOW)
    start = time.monotonic()
    await page.goto(f"/cases/{case_id}")
    await expect(page.get_by_test_id("connection-status")).to_have_attribute(
        "data-state", "live", timeout=120_000
    )
    await expect(page.get_by_test_id("case-summary")).not_to_be_empty()
    elapsed = time.monotonic() - start
    await context.close()
    return elapsed, received


def line(name: str, values: list[float]) -> str:
    return (
        f"{name}: p50 {statistics.median(values) * 1000:.0f} ms, "
        f"p90 {percentile(values, 0.9) * 1000:.0f} ms, max {max(values) * 1000:.0f} ms, "
        f"n={len(values)}"
    )


async def main(notes: int, loads: int) -> None:
    async with fresh_database("sqlite") as database_url, serve(database_url) as served:
        case_id = await case_in_session(served.url)
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS
            )
            try:
                latencies = await note_latencies(browser, served.url, case_id, notes)
                print(line("note typed on one page -> shown on the other", latencies))
                results = [await slow_load(browser, served.url, case_id) for _ in range(loads)]
            finally:
                await browser.close()
        times = [elapsed for elapsed, _ in results]
        sizes = [size for _, size in results]
        print(line("case room on 1 Mbit/s, +300 ms RTT, no cache -> live board", times))
        print(f"bytes received per load: {', '.join(f'{s / 1024:.0f} KiB' for s in sizes)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--notes", type=int, default=30)
    parser.add_argument("--loads", type=int, default=3)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.notes, arguments.loads))
