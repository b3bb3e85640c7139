"""The patient's identity in real browsers: entered with the request, shown on the case page
to its participants when they ask, edited by the requesting doctor and seen changed by the
council; never in the list; a member of another council cannot open the case."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Browser, Page, expect

from tests.browser.calls import in_room
from tests.browser.pages import sign_in
from tests.support.server import RunningServer

pytestmark = pytest.mark.browser

NAME = "Lê Thị Hồng Nhung"


async def test_participants_see_the_identity_and_nobody_else_does(
    server: RunningServer, browser: Browser
) -> None:
    doctor = await sign_in(browser, server, "bs.namcan")
    page = doctor.page
    await page.goto("/cases/new")
    await page.get_by_test_id("patient-code").fill("NC-ID-1")
    await page.get_by_test_id("patient-sex").select_option("female")
    await page.get_by_test_id("patient-birth-year").fill("1961")
    await page.get_by_test_id("new-identity-full-name").fill(NAME)
    await page.get_by_test_id("new-identity-date-of-birth").fill("1961-07-02")
    await page.get_by_test_id("new-identity-hospital-record-number").fill("BA-2026-01")
    await page.get_by_test_id("case-title").fill("Khó thở tăng dần")
    await page.get_by_test_id("case-summary").fill("Nữ 65 tuổi, khó thở khi gắng sức.")
    await page.get_by_test_id("question-text").nth(0).fill("Chẩn đoán?")
    await page.get_by_test_id("case-specialty").fill("Tim mạch")
    await page.get_by_test_id("case-council").select_option("HDCM-MIENNAM")
    await page.get_by_test_id("case-submit").click()
    await expect(page).to_have_url(re.compile(r"/cases/\d+$"))
    match = re.search(r"/cases/(\d+)$", page.url)
    assert match is not None
    case_id = int(match.group(1))

    # Shown when asked for, not before.
    facts = page.get_by_test_id("identity-facts")
    await expect(page.get_by_test_id("identity-show")).to_be_visible()
    await expect(facts).to_be_hidden()
    await page.get_by_test_id("identity-show").click()
    await expect(facts).to_contain_text(NAME)
    await expect(facts).to_contain_text("02/07/1961")
    await expect(facts).to_contain_text("BA-2026-01")

    chair = await in_room(browser, server, "gs.chutoa", case_id)
    await expect(chair.page.get_by_test_id("identity-edit")).to_be_hidden()
    await chair.page.get_by_test_id("identity-show").click()
    chair_facts = chair.page.get_by_test_id("identity-facts")
    await expect(chair_facts).to_contain_text(NAME)

    # The requesting doctor corrects the record number; the chair, looking, sees it change.
    await page.get_by_test_id("identity-edit").click()
    await expect(page.get_by_test_id("identity-full-name")).to_have_value(NAME)
    await page.get_by_test_id("identity-hospital-record-number").fill("BA-2026-99")
    await page.get_by_test_id("identity-save").click()
    await expect(facts).to_contain_text("BA-2026-99")
    await expect(chair_facts).to_contain_text("BA-2026-99")
    await expect(chair.page.get_by_test_id("timeline")).to_contain_text(
        "cập nhật thông tin định danh"
    )
    await expect(chair.page.get_by_test_id("timeline")).not_to_contain_text("BA-2026-99")

    # The list names the case by its code only.
    await chair.page.goto("/")
    row = chair.page.get_by_test_id("case-row").filter(has_text="NC-ID-1")
    await expect(row).to_have_count(1)
    assert NAME not in await chair.page.content()

    # A member of another council: the case is not there, nor its patient.
    stranger = await in_room_refused(browser, server, "gs.thankinh", case_id)
    assert NAME not in await stranger.content()
    for person in (doctor, chair):
        person.assert_clean()


async def in_room_refused(
    browser: Browser, server: RunningServer, username: str, case_id: int
) -> Page:
    person = await sign_in(browser, server, username)
    await person.page.goto(f"/cases/{case_id}")
    await expect(person.page.get_by_test_id("room-error")).to_be_visible()
    await expect(person.page.locator("#room")).to_be_hidden()
    return person.page
