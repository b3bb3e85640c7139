"""The live board in a browser: reconnecting after a network drop, a live event lost on
the way, notes shown as text, emergency alerts, the language switch."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable

import pytest
from playwright.async_api import Browser, WebSocketRoute, expect

from telemed.clock import ManualClock
from telemed.settings import Settings
from tests.browser.pages import sign_in, until_live
from tests.support.api import call
from tests.support.cases import create_case, to_session
from tests.support.server import RunningServer, running

pytestmark = pytest.mark.browser

XSS = "<img src=x onerror=alert(1)>"


async def test_after_a_network_drop_the_board_catches_up_once_and_in_order(
    server: RunningServer, browser: Browser
) -> None:
    doctor_api = await server.sign_in("bs.namcan")
    case_id = int((await create_case(doctor_api))["id"])
    await to_session(await server.sign_in("gs.chutoa"), case_id)
    chair = await sign_in(browser, server, "gs.chutoa")
    page = chair.page
    await page.goto(f"/cases/{case_id}")
    status = page.get_by_test_id("connection-status")
    await expect(status).to_have_attribute("data-state", "live")

    await chair.context.set_offline(True)
    await expect(status).to_have_attribute("data-state", "reconnecting", timeout=30_000)
    # Written while the chair's page is cut off: by another user, and on the page itself.
    for n in range(1, 4):
        await call(
            doctor_api,
            "POST",
            f"/api/v1/cases/{case_id}/notes",
            {"body": f"Ghi chú lúc mất mạng số {n}"},
            expect=201,
        )
    await page.get_by_test_id("note-body").fill("Ý kiến viết khi mất mạng")
    await page.get_by_test_id("note-submit").click()
    await expect(page.get_by_test_id("pending-note")).to_have_count(1)
    await chair.context.set_offline(False)

    await expect(status).to_have_attribute("data-state", "live", timeout=30_000)
    notes = page.get_by_test_id("note-text")
    await expect(notes).to_have_count(4, timeout=10_000)
    await expect(page.get_by_test_id("pending-note")).to_have_count(0)
    texts = await notes.all_inner_texts()
    assert texts[:3] == [f"Ghi chú lúc mất mạng số {n}" for n in range(1, 4)]
    assert texts[3] == "Ý kiến viết khi mất mạng"
    seqs = [
        int(s)
        for s in await page.get_by_test_id("note").evaluate_all(
            "nodes => nodes.map(n => n.dataset.seq)"
        )
    ]
    assert seqs == sorted(seqs)
    assert len(set(seqs)) == 4
    board = await call(doctor_api, "GET", f"/api/v1/cases/{case_id}")
    assert [n["body"] for n in board["notes"]].count("Ý kiến viết khi mất mạng") == 1
    chair.errors.clear()  # requests refused while offline are expected
    await page.reload()
    await expect(page.get_by_test_id("note-text")).to_have_count(4)
    chair.assert_clean()


async def test_a_live_event_lost_on_the_way_reaches_the_board_through_the_head_check(
    make_settings: Callable[..., Settings], clock: ManualClock, browser: Browser
) -> None:
    async with running(make_settings(socket_revalidate_seconds=0.5), clock) as server:
        doctor_api = await server.sign_in("bs.namcan")
        case_id = int((await create_case(doctor_api))["id"])
        chair = await sign_in(browser, server, "gs.chutoa")
        page = chair.page
        lost: list[str] = []
        passed: list[str | bytes] = []

        def drop_the_first_note(ws: WebSocketRoute) -> None:
            # Between the page and the server: the first live note never arrives (a proxy,
            # a bug, anything); nothing after it would reveal the gap.
            upstream = ws.connect_to_server()

            def from_server(message: str | bytes) -> None:
                if isinstance(message, str) and '"case:event"' in message and not lost:
                    lost.append(message)
                    return
                passed.append(message)
                ws.send(message)

            upstream.on_message(from_server)

        await page.route_web_socket(re.compile(r"/socket\.io/"), drop_the_first_note)
        await page.goto(f"/cases/{case_id}")
        await until_live(chair)
        await expect(page.locator("body")).to_have_attribute("data-socket", "websocket")
        # The route carries the server's messages already (the upgrade's probe at least).
        for _ in range(100):
            if passed:
                break
            await asyncio.sleep(0.1)
        assert passed, "the route carried nothing from the server"
        await call(
            doctor_api,
            "POST",
            f"/api/v1/cases/{case_id}/notes",
            {"body": "Ghi chú bị mất trên đường"},
            expect=201,
        )
        await expect(page.get_by_test_id("note-text")).to_have_text(
            ["Ghi chú bị mất trên đường"], timeout=15_000
        )
        assert len(lost) == 1
        assert '"seq":2,"type":"note.created"' in lost[0]
        async with doctor_api.http.get("/metrics") as response:
            assert "telemed_live_healed_events_total 1.0" in await response.text()
        chair.assert_clean()
        # Before the server stops: it would wait for the page's open websocket.
        await chair.context.close()


async def test_markup_in_a_note_or_a_title_shows_as_text(
    server: RunningServer, browser: Browser
) -> None:
    doctor_api = await server.sign_in("bs.namcan")
    case_id = int((await create_case(doctor_api, title=f"Ca {XSS}"))["id"])
    doctor = await sign_in(browser, server, "bs.namcan")
    await expect(doctor.page.get_by_test_id("case-row")).to_contain_text(XSS)
    await doctor.page.goto(f"/cases/{case_id}")
    await doctor.page.get_by_test_id("note-body").fill(XSS)
    await doctor.page.get_by_test_id("note-submit").click()
    chair = await sign_in(browser, server, "gs.chutoa")
    await expect(chair.page.get_by_test_id("case-row")).to_contain_text(XSS)
    await chair.page.goto(f"/cases/{case_id}")
    for person in (doctor, chair):
        page = person.page
        await expect(page.get_by_test_id("note-text")).to_have_text(XSS)
        await expect(page.get_by_test_id("case-title")).to_contain_text(XSS)
        assert await page.locator("img[src=x]").count() == 0
        await page.wait_for_timeout(300)  # an onerror handler would have fired by now
        person.assert_clean()


async def test_an_emergency_request_alerts_every_online_council_member(
    server: RunningServer, browser: Browser
) -> None:
    chair = await sign_in(browser, server, "gs.chutoa")
    member = await sign_in(browser, server, "gs.timmach")
    other_council = await sign_in(browser, server, "gs.thankinh")
    for person in (chair, member, other_council):
        await expect(person.page.get_by_test_id("emergency-banner")).to_be_hidden()
    await member.page.goto("/?lang=en")
    await member.page.wait_for_load_state("networkidle")
    case_id = int((await create_case(await server.sign_in("bs.namcan"), urgency="emergency"))["id"])
    for person in (chair, member):
        banner = person.page.get_by_test_id("emergency-banner")
        await expect(banner).to_be_visible()
        await expect(banner).to_have_attribute("role", "alert")
        await expect(banner).to_contain_text(f"{case_id}")
    await expect(member.page.get_by_test_id("emergency-text")).to_contain_text("EMERGENCY")
    await expect(chair.page.get_by_test_id("emergency-text")).to_contain_text("CẤP CỨU")
    await chair.page.get_by_test_id("emergency-open").click()
    await expect(chair.page).to_have_url(re.compile(rf"/cases/{case_id}$"))
    # The room it opens works (and its scripts have all loaded before the test ends: a
    # request cut off by closing the browser leaks a file in aiohttp's test server).
    await until_live(chair)
    await expect(chair.page.get_by_test_id("case-title")).to_contain_text(str(case_id))
    await expect(other_council.page.get_by_test_id("emergency-banner")).to_be_hidden()
    for person in (chair, member, other_council):
        person.assert_clean()


async def test_the_language_switch_changes_pages_and_scripts_and_is_remembered(
    server: RunningServer, browser: Browser
) -> None:
    await create_case(await server.sign_in("bs.namcan"))
    doctor = await sign_in(browser, server, "bs.namcan")
    page = doctor.page
    await expect(page.get_by_test_id("logout")).to_have_text("Đăng xuất")
    await expect(page.get_by_test_id("case-row-status")).to_have_text("Đã gửi yêu cầu")
    await page.get_by_test_id("lang-en").click()
    await expect(page.locator("html")).to_have_attribute("lang", "en")
    await expect(page.get_by_test_id("logout")).to_have_text("Sign out")
    await expect(page.get_by_test_id("case-row-status")).to_have_text("Requested")
    await page.goto("/cases/new")  # no ?lang=: the cookie keeps English
    await expect(page.locator("h1")).to_have_text("New consultation request")
    await expect(page.get_by_test_id("questions")).to_contain_text("Question 1")
    await page.get_by_test_id("lang-vi").click()
    await expect(page.locator("h1")).to_have_text("Yêu cầu hội chẩn mới")
    await expect(page.get_by_test_id("questions")).to_contain_text("Câu hỏi 1")
    doctor.assert_clean()


async def test_a_long_case_opens_on_its_latest_entries_and_pages_back_on_scroll(
    server: RunningServer, browser: Browser
) -> None:
    doctor_api = await server.sign_in("bs.namcan")
    case_id = int((await create_case(doctor_api))["id"])
    for n in range(1, 120):
        await call(
            doctor_api, "POST", f"/api/v1/cases/{case_id}/notes", {"body": f"số {n}"}, expect=201
        )
    chair = await sign_in(browser, server, "gs.chutoa")
    page = chair.page
    await page.goto(f"/cases/{case_id}")
    await until_live(chair)
    entries = page.locator("#timeline > li")
    await expect(entries).to_have_count(50)
    await expect(page.get_by_test_id("note-text").last).to_have_text("số 119")
    # Live entries land under the latest page.
    await call(doctor_api, "POST", f"/api/v1/cases/{case_id}/notes", {"body": "mới"}, 201)
    await expect(page.get_by_test_id("note-text").last).to_have_text("mới")
    await expect(entries).to_have_count(51)

    timeline = page.get_by_test_id("timeline")
    await timeline.evaluate("node => { node.scrollTop = 0; }")
    await expect(entries).to_have_count(101)
    await timeline.evaluate("node => { node.scrollTop = 0; }")
    await expect(entries).to_have_count(121)  # every entry, the case's creation first
    await expect(page.get_by_test_id("timeline-earlier")).to_be_hidden()
    seqs = await entries.evaluate_all("nodes => nodes.map(n => Number(n.dataset.seq))")
    assert seqs == list(range(1, 122))
    assert await page.get_by_test_id("note-text").first.inner_text() == "số 1"
    chair.assert_clean()
