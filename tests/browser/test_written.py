"""A written consultation in real browsers: the chair accepts the request for a written
answer, members give their opinions on the board, the page names whose opinion is still
awaited and offers the signature only once the chair closes the round; the doctor's list,
room and minutes say the case was consulted in writing."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, expect

from tests.browser.calls import in_room
from tests.browser.pages import confirm, sign_with_password
from tests.support.api import call
from tests.support.cases import DRAFT, create_case
from tests.support.server import RunningServer

pytestmark = pytest.mark.browser

# The browser's local time; far ahead of any server clock.
ANSWER_BY = "2036-01-02T09:00"


async def test_a_written_consultation_answered_on_the_board_and_signed_after_closing_the_round(
    server: RunningServer, browser: Browser
) -> None:
    doctor_api = await server.sign_in("bs.namcan")
    case_id = int((await create_case(doctor_api))["id"])
    chair = await in_room(browser, server, "gs.chutoa", case_id)
    doctor = await in_room(browser, server, "bs.namcan", case_id)

    page = chair.page
    await expect(page.get_by_test_id("case-mode")).to_be_hidden()
    await page.get_by_test_id("accept-written-by").fill(ANSWER_BY)
    await page.get_by_test_id("action-accept-written").click()
    await expect(page.get_by_test_id("case-status")).to_have_attribute("data-status", "accepted")
    for person in (chair, doctor):
        mode = person.page.get_by_test_id("case-mode")
        await expect(mode).to_have_attribute("data-mode", "written")
        await expect(mode).to_have_text("Hội chẩn bằng văn bản")
    await expect(doctor.page.get_by_test_id("timeline")).to_contain_text("hội chẩn bằng văn bản")
    await expect(page.get_by_test_id("written-deadline")).to_contain_text("Hạn cho ý kiến")
    await expect(page.get_by_test_id("written-awaiting")).to_contain_text("dự thảo kết luận")
    # No session in a written consultation: the live switch is offered, no call, no start.
    await expect(page.get_by_test_id("action-schedule")).to_be_visible()
    await expect(page.get_by_test_id("action-start-session")).to_be_hidden()
    await expect(page.get_by_test_id("action-continue-in-writing")).to_be_hidden()

    await call(
        await server.sign_in("gs.chutoa"), "PUT", f"/api/v1/cases/{case_id}/decision/draft", DRAFT
    )
    member = await in_room(browser, server, "gs.timmach", case_id)
    await member.page.get_by_test_id("concur").click()
    awaiting = page.get_by_test_id("written-awaiting")
    await expect(awaiting).to_contain_text("Đang chờ ý kiến của")
    await expect(awaiting).to_contain_text("TS.BS. Phạm Thu Kỳ")
    await expect(awaiting).not_to_contain_text("Võ Tâm Mạch")
    await expect(page.get_by_test_id("sign-decision")).to_be_disabled()

    await page.get_by_test_id("action-close-round").click()
    await confirm(page, text="Kết thúc vòng lấy ý kiến")
    await expect(page.get_by_test_id("written-deadline")).to_contain_text("Đã kết thúc")
    await expect(page.get_by_test_id("action-close-round")).to_be_hidden()
    await expect(page.get_by_test_id("sign-decision")).to_be_enabled()
    await page.get_by_test_id("sign-decision").click()
    await sign_with_password(page)
    await expect(page.get_by_test_id("signed-decision")).to_have_count(1)
    await expect(doctor.page.get_by_test_id("case-status")).to_have_attribute(
        "data-status", "decided"
    )
    await expect(doctor.page.get_by_test_id("case-mode")).to_have_text("Hội chẩn bằng văn bản")

    minutes = await doctor.page.request.get(f"/api/v1/cases/{case_id}/minutes")
    assert minutes.status == 200
    assert "Hội chẩn bằng văn bản" in await minutes.text()
    await doctor.page.goto("/")
    row = doctor.page.locator(f'[data-testid="case-row"][data-case-id="{case_id}"]')
    await expect(row.get_by_test_id("case-row-status")).to_have_text(
        "Đã có kết luận · Hội chẩn bằng văn bản"
    )
    for person in (chair, doctor, member):
        person.assert_clean()
