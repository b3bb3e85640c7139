"""Searching the case list in a real browser: words typed without diacritics find the case
written with them, and every result reaches the page as text."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Browser, expect

from tests.browser.pages import sign_in
from tests.support.cases import create_case
from tests.support.server import RunningServer

pytestmark = pytest.mark.browser


async def test_dau_nguc_finds_the_case_titled_dau_nguc(
    server: RunningServer, browser: Browser
) -> None:
    doctor = await server.sign_in("bs.namcan")
    chest = await create_case(doctor, title="Đau ngực", patient_code="NC-7")
    await create_case(doctor, title="Sốt <b>cao</b>", summary="Sốt cao.", patient_code="NC-8")

    person = await sign_in(browser, server, "bs.namcan")
    page = person.page
    rows = page.get_by_test_id("case-row")
    await expect(rows).to_have_count(2)
    await expect(rows.get_by_text("Sốt <b>cao</b>", exact=True)).to_have_count(1)  # as text

    await page.get_by_test_id("search-q").fill("dau nguc")
    await page.get_by_test_id("search-submit").click()
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_have_attribute("data-case-id", str(chest["id"]))
    await expect(rows.first).to_contain_text("Đau ngực")
    await expect(rows.first).to_contain_text("NC-7")

    await page.get_by_test_id("search-q").fill("không có")
    await page.get_by_test_id("search-submit").click()
    await expect(rows).to_have_count(0)
    await expect(page.get_by_test_id("cases-empty")).to_be_visible()

    await page.get_by_test_id("search-q").fill("!!!")  # no words: the server says so
    await page.get_by_test_id("search-submit").click()
    await expect(page.get_by_test_id("cases-empty")).to_contain_text("mã bệnh nhân")

    await page.get_by_test_id("search-reset").click()
    await expect(rows).to_have_count(2)
    # Narrowed to the other council, the list is empty; back to every council, whole.
    await page.get_by_test_id("search-council").select_option("HDCM-TW")
    await page.get_by_test_id("search-submit").click()
    await expect(rows).to_have_count(0)
    await page.get_by_test_id("search-council").select_option("")
    await page.get_by_test_id("search-submit").click()
    await expect(rows).to_have_count(2)
    person.assert_clean(refused=re.compile(r"/api/v1/cases\?"))
