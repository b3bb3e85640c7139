"""The inbox in a browser: the header's unread count follows live notices, the list
survives a reload, and marking read lowers the count."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, expect

from tests.browser.pages import sign_in
from tests.support.cases import act, create_case
from tests.support.server import RunningServer

pytestmark = pytest.mark.browser


async def test_the_badge_counts_live_notices_and_the_inbox_keeps_them(
    server: RunningServer, browser: Browser
) -> None:
    doctor = await server.sign_in("bs.namcan")
    first = int((await create_case(doctor, title="Đau ngực <b>cấp</b>"))["id"])
    member = await sign_in(browser, server, "gs.timmach")
    page = member.page
    badge = page.get_by_test_id("inbox-badge")
    await expect(badge).to_have_text("1")

    # A notice while the page is open raises the count live.
    second = int((await create_case(doctor, patient_code="NC-2026-777"))["id"])
    await expect(badge).to_have_text("2")

    await page.get_by_test_id("nav-inbox").click()
    items = page.get_by_test_id("inbox-item")
    await expect(items).to_have_count(2)
    texts = await page.get_by_test_id("inbox-text").all_inner_texts()
    assert f"{second}" in texts[0]
    assert "Đau ngực <b>cấp</b>" in texts[1]  # the title as text, never as markup

    await items.nth(1).get_by_test_id("inbox-mark-read").click()
    await expect(badge).to_have_text("1")
    await expect(items.nth(1).get_by_test_id("inbox-mark-read")).to_have_count(0)

    # After a reload the list and the count are read back from the server.
    await page.reload()
    await expect(items).to_have_count(2)
    await expect(badge).to_have_text("1")
    await expect(items.nth(1).get_by_test_id("inbox-mark-read")).to_have_count(0)

    # A notice arriving on the inbox page goes to the top.
    chair = await server.sign_in("gs.chutoa")
    await act(chair, first, "decline", reason="Ngoài chuyên môn.")  # not for the member
    third = int((await create_case(doctor, patient_code="NC-2026-778"))["id"])
    await expect(items).to_have_count(3)
    assert f"{third}" in (await page.get_by_test_id("inbox-text").all_inner_texts())[0]
    await expect(badge).to_have_text("2")

    await page.get_by_test_id("inbox-read-all").click()
    await expect(badge).to_be_hidden()
    await expect(page.get_by_test_id("inbox-mark-read")).to_have_count(0)
    member.assert_clean()
