"""Signing in and the session's end. The session-timeout warning: shown before the idle
timeout, "stay signed in" keeps the session; left alone, the page signs out (the page's
clock is Playwright's, not real time). Enter signs in however slowly the page's other
files arrive."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable

import pytest
from playwright.async_api import Browser, Route, expect

from telemed.accounts.demo import DEMO_PASSWORD
from telemed.settings import Settings
from tests.browser.pages import open_page, sign_in
from tests.support.server import RunningServer

pytestmark = pytest.mark.browser

STALE_POLL = re.compile(r"^400 \S+/socket\.io/\?EIO=4&transport=polling&t=\w+&sid=")
IDLE = 600  # seconds: warned 2 minutes ahead of a 1-minute safety margin


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(session_idle_timeout=IDLE)


async def test_the_page_warns_before_the_idle_timeout_and_can_keep_the_session(
    server: RunningServer, browser: Browser
) -> None:
    doctor = await sign_in(browser, server, "bs.namcan")
    page = doctor.page
    await page.clock.install()
    await page.reload()
    await expect(page.locator("body")).to_have_attribute("data-ready", "true")
    await expect(page.get_by_test_id("cases-empty")).to_be_visible()
    warning = page.get_by_test_id("session-warning")
    await page.clock.run_for(IDLE * 1000 - 60_000 - 120_000 - 5_000)
    await expect(warning).to_be_hidden()
    await page.clock.run_for(10_000)
    await expect(warning).to_be_visible()
    await expect(page.get_by_test_id("session-countdown")).to_contain_text("giây")
    async with page.expect_response(re.compile(r"/api/v1/me$")) as response:
        await page.get_by_test_id("stay-signed-in").click()
    assert (await response.value).status == 200
    await expect(warning).to_be_hidden()

    await page.clock.run_for(IDLE * 1000)
    await expect(page).to_have_url(re.compile(r"/login\?expired=1$"))
    await expect(page.get_by_test_id("login-expired")).to_be_visible()
    # The page signed out for real: the session no longer works.
    assert (await doctor.context.request.get("/api/v1/me")).status == 401
    # Minutes of page time pass in an instant: Socket.IO's heartbeat times out and the
    # client starts over, and a long-poll of the connection it gave up may be refused.
    doctor.assert_clean(refused=STALE_POLL)


async def test_enter_signs_in_before_the_page_catalog_arrives(
    server: RunningServer, browser: Browser
) -> None:
    """The sign-in form answers Enter as soon as the page has loaded, even while the
    string catalog is still on its way: a form submitted natively would put the password
    in an address."""
    person = await open_page(browser, server, "bs.namcan")
    page = person.page
    release = asyncio.Event()
    held: list[str] = []

    async def hold(route: Route) -> None:
        held.append(route.request.url)
        await release.wait()
        await route.continue_()

    await page.route("**/static/i18n/*.json", hold)
    urls: list[str] = []
    page.on("request", lambda request: urls.append(request.url))
    await page.goto("/login")
    await page.fill("input[name=username]", "bs.namcan")
    await page.fill("input[name=password]", DEMO_PASSWORD)
    try:
        async with page.expect_response(re.compile(r"/api/v1/auth/login$")) as response:
            await page.press("input[name=password]", "Enter")
        assert (await response.value).status == 200
    finally:
        release.set()
    await expect(page).to_have_url(re.compile(r"/$"))
    await expect(page.get_by_test_id("current-user")).to_contain_text("bs.namcan")
    assert [u for u in urls if DEMO_PASSWORD in u] == []
    person.assert_clean()
