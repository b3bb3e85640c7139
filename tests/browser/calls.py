"""Reading a page's call: its RTCPeerConnections (``window.telemedCall``) and their stats."""

from __future__ import annotations

import asyncio
import time

from playwright.async_api import Browser, Page, expect

from tests.browser.pages import Person, sign_in, until_live
from tests.support.cases import create_case, to_session
from tests.support.server import RunningServer

CONNECT_SECONDS = 30.0

# Sums one counter of the inbound RTP streams of one kind over the page's connections.
INBOUND = """async ([kind, counter]) => {
  let total = 0;
  for (const pc of window.telemedCall.pcs.values()) {
    const report = await pc.getStats();
    report.forEach((s) => {
      if (s.type === "inbound-rtp" && s.kind === kind) total += s[counter] ?? 0;
    });
  }
  return total;
}"""


async def inbound(page: Page, kind: str, counter: str) -> int:
    value = await page.evaluate(INBOUND, [kind, counter])
    return int(value)


async def join_call(page: Page, *, state: str = "in_call") -> None:
    await page.get_by_test_id("call-join").click()
    await expect(page.get_by_test_id("call-leave")).to_be_visible()
    await expect(page.get_by_test_id("call-self")).to_have_count(1)
    await expect(page.get_by_test_id("call-panel")).to_have_attribute("data-state", state)


async def until(page: Page, expression: str, seconds: float = CONNECT_SECONDS) -> None:
    """Polls an expression from the test's side (the page's CSP refuses the string
    predicates of ``wait_for_function``)."""
    deadline = time.monotonic() + seconds
    while not await page.evaluate(expression):
        assert time.monotonic() < deadline, f"still false after {seconds} s: {expression}"
        await asyncio.sleep(0.2)


async def until_increasing(page: Page, kind: str, counter: str) -> tuple[int, int]:
    """Waits until the page receives something, then samples the counter twice a second
    apart: both readings, the second expected larger."""
    deadline = time.monotonic() + CONNECT_SECONDS
    first = await inbound(page, kind, counter)
    while first == 0 and time.monotonic() < deadline:
        await asyncio.sleep(0.25)
        first = await inbound(page, kind, counter)
    await asyncio.sleep(1.0)
    return first, await inbound(page, kind, counter)


async def assert_receiving_video(page: Page) -> None:
    first, second = await until_increasing(page, "video", "framesDecoded")
    assert 0 < first < second, (first, second)


async def assert_receiving_audio(page: Page) -> None:
    first, second = await until_increasing(page, "audio", "packetsReceived")
    assert 0 < first < second, (first, second)


async def in_room(browser: Browser, server: RunningServer, username: str, case_id: int) -> Person:
    """``username`` signed in, on the case's room page, its live connection up."""
    person = await sign_in(browser, server, username)
    await person.page.goto(f"/cases/{case_id}")
    await until_live(person)
    return person


async def a_call(server: RunningServer, browser: Browser) -> tuple[int, Person, Person]:
    """A case in session with the requesting doctor and the chair both in its call."""
    doctor_api = await server.sign_in("bs.namcan")
    case_id = int((await create_case(doctor_api))["id"])
    await to_session(await server.sign_in("gs.chutoa"), case_id)
    doctor = await in_room(browser, server, "bs.namcan", case_id)
    chair = await in_room(browser, server, "gs.chutoa", case_id)
    await join_call(chair.page)
    await join_call(doctor.page)
    await assert_receiving_video(chair.page)
    await assert_receiving_video(doctor.page)
    return case_id, doctor, chair
