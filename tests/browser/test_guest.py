"""A guest specialist in a real browser: the one-time link's Join button opens that case's
room, the guest waits in the lobby until the chair admits them from the page, then they see each
other's video; every other page answers as to a stranger. The chair invites from the room,
copies the link and revokes it, after which the link no longer works."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Browser, expect

from tests.browser.calls import assert_receiving_video, in_room, join_call
from tests.browser.pages import open_page
from tests.support.api import call
from tests.support.cases import create_case, to_session
from tests.support.server import RunningServer

pytestmark = pytest.mark.browser

GUEST = "PGS. Lê Văn Khách"


async def test_a_guest_opens_the_link_waits_and_is_admitted_by_the_chair(
    server: RunningServer, browser: Browser
) -> None:
    doctor_api, chair_api = await server.sign_in("bs.namcan"), await server.sign_in("gs.chutoa")
    case_id = int((await create_case(doctor_api))["id"])
    other_id = int((await create_case(doctor_api))["id"])
    await to_session(chair_api, case_id)
    invitation = await call(
        chair_api, "POST", f"/api/v1/cases/{case_id}/invites", {"name": GUEST}, expect=201
    )
    chair = await in_room(browser, server, "gs.chutoa", case_id)
    await join_call(chair.page)

    guest = await open_page(browser, server, "guest")
    page = guest.page
    # The link opens a page that spends nothing until the guest presses Join.
    await page.goto(invitation["url"])
    await expect(page.get_by_test_id("join-submit")).to_be_visible()
    await page.get_by_test_id("join-submit").click()
    await expect(page).to_have_url(f"{server.url}/cases/{case_id}")
    await expect(page.get_by_test_id("connection-status")).to_have_attribute("data-state", "live")
    await expect(page.get_by_test_id("case-summary")).not_to_be_empty()
    await join_call(page, state="lobby")

    waiting = chair.page.get_by_test_id("lobby-entry").filter(has_text=GUEST)
    await expect(waiting).to_have_count(1)
    await waiting.get_by_test_id("lobby-admit").click()
    await expect(page.get_by_test_id("call-panel")).to_have_attribute("data-state", "in_call")
    await assert_receiving_video(page)
    await assert_receiving_video(chair.page)
    await expect(chair.page.get_by_test_id("lobby-entry")).to_have_count(0)
    # The room shows who the guest is, in the page's language, and the guest's page is clean.
    present = chair.page.get_by_test_id("present").filter(has_text=GUEST)
    await expect(present).to_contain_text("chuyên gia khách mời")
    guest.assert_clean()

    # Any other case is as if it did not exist; the link does not work twice.
    response = await page.goto(f"/cases/{other_id}")
    assert response is not None
    await expect(page.get_by_test_id("room-error")).to_be_visible()
    again = await open_page(browser, server, "again")
    await again.page.goto(invitation["url"])
    await again.page.get_by_test_id("join-submit").click()
    await expect(again.page.get_by_test_id("join-error")).to_contain_text("không còn hợp lệ")
    await expect(again.page).to_have_url(invitation["url"])
    chair.assert_clean()


async def test_the_chair_invites_from_the_room_copies_the_link_and_revokes_it(
    server: RunningServer, browser: Browser
) -> None:
    doctor_api, chair_api = await server.sign_in("bs.namcan"), await server.sign_in("gs.chutoa")
    case_id = int((await create_case(doctor_api))["id"])
    await to_session(chair_api, case_id)
    chair = await in_room(browser, server, "gs.chutoa", case_id)
    await chair.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page = chair.page
    card = page.get_by_test_id("guests-card")
    await expect(card).to_be_visible()
    await expect(page.get_by_test_id("guest")).to_have_count(0)

    await page.get_by_test_id("guest-name").fill(GUEST)
    await page.get_by_test_id("guest-specialty").fill("Tim mạch can thiệp")
    await page.get_by_test_id("guest-expiry").select_option("14400")
    await page.get_by_test_id("guest-invite").click()
    url_box = page.get_by_test_id("guest-url")
    await expect(url_box).to_have_value(re.compile(r"/join/[\w-]{16,}$"))
    url = await url_box.input_value()
    await page.get_by_test_id("guest-copy").click()
    await expect(page.get_by_test_id("guest-copied")).to_contain_text("Đã sao chép")
    assert await page.evaluate("navigator.clipboard.readText()") == url
    invited = page.get_by_test_id("guest").filter(has_text=GUEST)
    await expect(invited).to_have_attribute("data-state", "pending")
    await expect(invited).to_contain_text("Tim mạch can thiệp")
    await expect(page.get_by_test_id("timeline")).to_contain_text(GUEST)

    # The requesting doctor and a member see the invitation in the history, not the panel.
    doctor = await in_room(browser, server, "bs.namcan", case_id)
    await expect(doctor.page.get_by_test_id("timeline")).to_contain_text(GUEST)
    await expect(doctor.page.get_by_test_id("guests-card")).to_be_hidden()

    await invited.get_by_test_id("guest-revoke").click()
    await expect(page.get_by_test_id("confirm-text")).to_contain_text(GUEST)
    await page.get_by_test_id("confirm-yes").click()
    await expect(invited).to_have_attribute("data-state", "revoked")
    await expect(invited.get_by_test_id("guest-revoke")).to_have_count(0)
    await expect(doctor.page.get_by_test_id("timeline")).to_contain_text("thu hồi")

    guest = await open_page(browser, server, "guest")
    await guest.page.goto(url)
    await guest.page.get_by_test_id("join-submit").click()
    await expect(guest.page.get_by_test_id("join-error")).to_contain_text("không còn hợp lệ")
    for person in (chair, doctor):
        person.assert_clean()
