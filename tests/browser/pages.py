"""Driving Telemed's pages as people do: a browser context per person, sign-in by the form."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from playwright.async_api import Browser, BrowserContext, Page, ViewportSize, expect

from telemed.accounts.demo import DEMO_PASSWORD
from tests.support.server import RunningServer

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
VIEWPORT: ViewportSize = {"width": 1366, "height": 768}


@dataclass
class Person:
    """One person's browser context and page, with whatever went wrong in the page."""

    username: str
    context: BrowserContext
    page: Page
    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    # Requests the page sent and has no answer to yet: what a page stuck loading waits on.
    waiting: set[str] = field(default_factory=set)

    def assert_clean(self, *, refused: re.Pattern[str] | None = None) -> None:
        """No uncaught script error, no CSP violation, no dialog (alert) in this page.

        ``refused`` names requests a test expects to be refused; each also leaves one
        console line without its URL, which is dropped with it."""
        # The minutes stylesheet names DejaVu by file:// for the PDF renderer; a browser
        # refuses those URLs (and uses its own fonts), which is expected.
        errors = [e for e in self.errors if "file:///usr/share/fonts/" not in e]
        echo_prefix = "console: Failed to load resource: the server responded with a status of"
        for expected in [e for e in errors if refused and refused.search(e)]:
            errors.remove(expected)
            echo = f"{echo_prefix} {expected.split()[0]}"
            matching = [e for e in errors if e.startswith(echo)]
            if matching:
                errors.remove(matching[0])
        assert errors == [], errors
        assert self.dialogs == [], self.dialogs


async def open_page(browser: Browser, server: RunningServer, username: str) -> Person:
    context = await browser.new_context(base_url=server.url, viewport=VIEWPORT)
    # The test flag: the call panel then exposes its connections as window.telemedCall.
    await context.add_init_script("window.telemedTest = true;")
    page = await context.new_page()
    person = Person(username, context, page)
    page.on("pageerror", lambda error: person.errors.append(f"pageerror: {error}"))
    page.on(
        "console",
        lambda message: (
            person.errors.append(f"console: {message.text}") if message.type == "error" else None
        ),
    )

    page.on(
        "response",
        lambda response: (
            person.errors.append(f"{response.status} {response.url}")
            if response.status >= 400
            else None
        ),
    )

    async def on_dialog(dialog: object) -> None:
        person.dialogs.append(getattr(dialog, "message", "?"))
        await dialog.dismiss()  # type: ignore[attr-defined]

    page.on("dialog", on_dialog)
    page.on("request", lambda request: person.waiting.add(request.url))
    page.on("requestfinished", lambda request: person.waiting.discard(request.url))
    page.on("requestfailed", lambda request: person.waiting.discard(request.url))
    return person


async def until_live(person: Person) -> None:
    """The page's live connection up (its case room joined); when it does not get there,
    the failure tells what the page saw: its errors and the requests still unanswered."""
    status = person.page.get_by_test_id("connection-status")
    try:
        await expect(status).to_have_attribute("data-state", "live")
    except AssertionError as error:
        text = await status.text_content()
        raise AssertionError(
            f"{person.username}'s room is not live (status text {text!r}); "
            f"errors {person.errors}; unanswered {sorted(person.waiting)}"
        ) from error


async def sign_in(
    browser: Browser, server: RunningServer, username: str, *, screenshot: str | None = None
) -> Person:
    person = await open_page(browser, server, username)
    page = person.page
    await page.goto("/login")
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", DEMO_PASSWORD)
    if screenshot:
        await shoot(page, screenshot)
    await page.get_by_test_id("login-submit").click()
    await expect(page).to_have_url(re.compile(r"/$"))
    await expect(page.get_by_test_id("current-user")).to_contain_text(username)
    return person


async def shoot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.evaluate("window.scrollTo(0, 0)")
    await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


async def confirm(page: Page, *, text: str = "") -> None:
    dialog = page.get_by_test_id("confirm-dialog")
    await expect(dialog).to_be_visible()
    if text:
        await expect(page.get_by_test_id("confirm-text")).to_contain_text(text)
    await page.get_by_test_id("confirm-yes").click()
    await expect(dialog).to_be_hidden()


async def sign_with_password(page: Page, *, text: str = "", password: str = DEMO_PASSWORD) -> None:
    """The sign dialog: the chair re-enters their password (the step-up), then signs."""
    dialog = page.get_by_test_id("sign-dialog")
    await expect(dialog).to_be_visible()
    if text:
        await expect(page.get_by_test_id("sign-text")).to_contain_text(text)
    await page.get_by_test_id("sign-password").fill(password)
    await page.get_by_test_id("sign-yes").click()
