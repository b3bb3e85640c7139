"""A real Chromium driven by Playwright against the real server on an ephemeral port.

The pages exercise the browser code, not the database: these tests run on SQLite only
(the database behaviour is proven on both backends by the API tests).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest
from playwright.async_api import Browser, async_playwright, expect

from telemed.settings import Settings
from tests.support.services import CHROMIUM, require_binary

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

# How long an expectation waits for the page to get there: a bound, not a speed check. With
# the suite's workers sharing two cores (scripts/test), a sign-in that answers in a
# fraction of a second alone can take several; Playwright's default of 5 s is too tight.
expect.set_options(timeout=20_000)


@pytest.fixture
def backend() -> str:
    return "sqlite"


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    # The story moves the server's clock by hours between steps; sessions must outlive that.
    return make_settings(session_idle_timeout=8 * 3600)


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    executable = require_binary(CHROMIUM, "chromium")
    # Started inside the test's event loop, where the server fixture runs too.
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            await launched.close()
