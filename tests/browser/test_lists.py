"""Lists, files and signing out in real browsers: the council's queue in order of urgency
then waiting time, coloured against each urgency's target; an attachment's progress bar
on a slow upload and a DICOM preview in the viewer; signing out ends the session."""

from __future__ import annotations

import asyncio
import io
import random
import re
from datetime import UTC, datetime, timedelta

import pytest
from PIL import Image
from playwright.async_api import Browser, FilePayload, expect

from telemed.clock import ManualClock
from tests.browser.calls import in_room
from tests.browser.pages import sign_in
from tests.support.attachments import dicom_bytes
from tests.support.cases import create_case
from tests.support.server import RunningServer

pytestmark = pytest.mark.browser

START = timedelta(hours=30)


@pytest.fixture
def clock() -> ManualClock:
    # The pages measure waiting time against the browser's clock: start 30 hours ago.
    return ManualClock(datetime.now(UTC) - START)


async def test_the_queue_puts_urgency_first_then_the_longest_wait_coloured_by_target(
    server: RunningServer, browser: Browser, clock: ManualClock
) -> None:
    async def request(urgency: str, code: str) -> int:
        doctor = await server.sign_in("bs.namcan")  # sessions do not outlive the jumps
        return int((await create_case(doctor, urgency=urgency, patient_code=code))["id"])

    made = {"A": await request("urgent", "A"), "B": await request("routine", "B")}
    clock.advance(timedelta(hours=16).total_seconds())  # 14 hours ago
    made["C"] = await request("urgent", "C")
    clock.advance(timedelta(hours=13, minutes=40).total_seconds())  # 20 minutes ago
    made["D"] = await request("emergency", "D")
    made["E"] = await request("urgent", "E")

    chair = await sign_in(browser, server, "gs.chutoa")
    rows = chair.page.get_by_test_id("case-row")
    await expect(rows).to_have_count(5)
    order = [int(i) for i in await rows.evaluate_all("rows => rows.map(r => r.dataset.caseId)")]
    assert order == [made[k] for k in ("D", "A", "C", "E", "B")]
    levels = await chair.page.get_by_test_id("waiting").evaluate_all(
        "cells => cells.map(c => c.dataset.level)"
    )
    # Emergency 20 min of 1 h: on time; urgent 30 h of 24 h: over; 14 h: past half; 20
    # min: on time; routine 30 h of 7 days: on time.
    assert levels == ["ok", "over", "near", "ok", "ok"]
    chair.assert_clean()


def noisy_png(side: int = 700) -> bytes:
    """A PNG that does not compress: about 1.4 MB of random pixels."""
    noise = random.Random(7).randbytes(side * side * 3)
    out = io.BytesIO()
    Image.frombytes("RGB", (side, side), noise).save(out, "PNG")
    return out.getvalue()


async def test_a_slow_upload_shows_its_progress_and_a_dicom_opens_as_a_preview(
    server: RunningServer, browser: Browser
) -> None:
    case_id = int((await create_case(await server.sign_in("bs.namcan")))["id"])
    doctor = await in_room(browser, server, "bs.namcan", case_id)
    page = doctor.page
    cdp = await doctor.context.new_cdp_session(page)
    await cdp.send("Network.enable")
    slow = {"offline": False, "latency": 50, "downloadThroughput": -1}
    await cdp.send("Network.emulateNetworkConditions", {**slow, "uploadThroughput": 300_000})

    image: FilePayload = {"name": "x-quang.png", "mimeType": "image/png", "buffer": noisy_png()}
    await page.get_by_test_id("attach-files").set_input_files([image])
    bar = page.locator("[data-testid=upload] progress")
    seen: set[int] = set()
    for _ in range(200):
        seen.add(int(await bar.evaluate("bar => bar.value")))
        if 100 in seen:
            break
        await asyncio.sleep(0.05)
    assert any(0 < value < 100 for value in seen), sorted(seen)
    await expect(page.locator("[data-testid=upload]")).to_have_attribute("data-state", "done")
    await cdp.send("Network.emulateNetworkConditions", {**slow, "uploadThroughput": -1})

    scan: FilePayload = {"name": "ct.dcm", "mimeType": "application/dicom", "buffer": dicom_bytes()}
    await page.get_by_test_id("attach-files").set_input_files([scan])
    dicom = page.locator('[data-testid=attachment][data-kind="dicom"]')
    await expect(dicom).to_have_count(1)
    await dicom.get_by_test_id("view-attachment").click()
    viewer = page.get_by_test_id("viewer-image")
    await expect(viewer).to_be_visible()
    await expect(viewer).to_have_attribute("src", re.compile(r"/preview$"))
    assert await viewer.evaluate("img => img.decode().then(() => img.naturalWidth)") > 0
    doctor.assert_clean()


async def test_signing_out_ends_the_session_for_every_page(
    server: RunningServer, browser: Browser
) -> None:
    doctor = await sign_in(browser, server, "bs.namcan")
    other_tab = await doctor.context.new_page()
    await other_tab.goto("/")
    await doctor.page.get_by_test_id("logout").click()
    await expect(doctor.page).to_have_url(re.compile(r"/login"))
    assert (await doctor.page.request.get("/api/v1/me")).status == 401
    await other_tab.goto("/")
    await expect(other_tab).to_have_url(re.compile(r"/login"))
    doctor.assert_clean()
