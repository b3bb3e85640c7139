"""The pages fit the screens they are used on: a 1366x768 hospital laptop and a tablet
held upright, with nothing to scroll sideways and every main control on screen."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, ViewportSize, expect

from tests.browser.pages import sign_in, until_live
from tests.support.cases import create_case, to_session
from tests.support.server import RunningServer

pytestmark = pytest.mark.browser

SCREENS: dict[str, ViewportSize] = {
    "laptop": {"width": 1366, "height": 768},
    "tablet": {"width": 768, "height": 1024},
}
# How far the page reaches past the right edge of the window, in CSS pixels.
OVERFLOW = "() => document.documentElement.scrollWidth - window.innerWidth"


@pytest.mark.parametrize("screen", sorted(SCREENS))
async def test_main_pages_fit_without_sideways_scrolling(
    server: RunningServer, browser: Browser, screen: str
) -> None:
    case_id = int((await create_case(await server.sign_in("bs.namcan")))["id"])
    await to_session(await server.sign_in("gs.chutoa"), case_id)
    pages = {
        "bs.namcan": ["/", "/cases/new", f"/cases/{case_id}", "/account/password"],
        "gs.chutoa": ["/", f"/cases/{case_id}", f"/api/v1/cases/{case_id}/minutes", "/inbox"],
        "kiemtra": ["/audit", "/stats", "/admin/users", "/admin/councils", "/admin/facilities"],
    }
    overflowing: list[str] = []
    for username, paths in pages.items():
        person = await sign_in(browser, server, username)
        await person.page.set_viewport_size(SCREENS[screen])
        for path in paths:
            await person.page.goto(path)
            await person.page.wait_for_load_state("networkidle")
            extra = int(await person.page.evaluate(OVERFLOW))
            if extra > 0:
                overflowing.append(f"{path} ({username}): {extra}px too wide")
        person.assert_clean()
    assert overflowing == []


async def test_the_case_room_controls_are_reachable_on_a_tablet(
    server: RunningServer, browser: Browser
) -> None:
    case_id = int((await create_case(await server.sign_in("bs.namcan")))["id"])
    await to_session(await server.sign_in("gs.chutoa"), case_id)
    chair = await sign_in(browser, server, "gs.chutoa")
    page = chair.page
    await page.set_viewport_size(SCREENS["tablet"])
    await page.goto(f"/cases/{case_id}")
    await until_live(chair)
    for control in ("call-join", "note-body", "note-submit", "save-draft"):
        target = page.get_by_test_id(control)
        await target.scroll_into_view_if_needed()
        await expect(target).to_be_in_viewport()
        box = await target.bounding_box()
        assert box is not None
        assert box["x"] >= 0
        assert box["x"] + box["width"] <= SCREENS["tablet"]["width"]
    chair.assert_clean()
