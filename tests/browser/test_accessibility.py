"""Accessibility of the main pages, measured in the real browser: every control has a
name, text has enough contrast against what it is drawn on, and the keyboard alone signs
in and moves through the page with a visible focus."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect

from telemed.accounts.demo import DEMO_PASSWORD
from tests.browser.pages import open_page, sign_in
from tests.support.cases import create_case
from tests.support.server import RunningServer

pytestmark = pytest.mark.browser

# Every form control and button, with how a screen reader would name it (labels,
# aria-label, aria-labelledby, a button's text or title). Returns the nameless ones.
UNNAMED = """
() => [...document.querySelectorAll(
    'input:not([type=hidden]), select, textarea, button, [role=button], a[href]'
  )].filter(el => {
    const labelled = el.getAttribute('aria-labelledby');
    const named = (id) => document.getElementById(id)?.textContent.trim();
    if (labelled && labelled.split(/\\s+/).some(named)) return false;
    if ((el.getAttribute('aria-label') || '').trim()) return false;
    if (el.labels && [...el.labels].some(l => l.textContent.trim())) return false;
    if (['BUTTON', 'A'].includes(el.tagName) || el.getAttribute('role') === 'button') {
      if (el.textContent.trim() || (el.getAttribute('title') || '').trim()) return false;
      if ([...el.querySelectorAll('img')].some(img => (img.alt || '').trim())) return false;
    }
    return true;
  }).map(el => el.dataset.testid || el.id || el.outerHTML.slice(0, 80))
"""

# WCAG 2 contrast of every visible text against the first opaque background behind it:
# at least 4.5:1, or 3:1 for large text (24px, or 18.66px bold). Returns the failures.
LOW_CONTRAST = """
() => {
  const rgba = (value) => {
    const m = value.match(/rgba?\\(([^)]+)\\)/);
    if (!m) return [0, 0, 0, 0];
    const parts = m[1].split(/[ ,\\/]+/).filter(Boolean).map(Number);
    return [parts[0], parts[1], parts[2], parts.length > 3 ? parts[3] : 1];
  };
  const luminance = ([r, g, b]) => {
    const c = [r, g, b].map(v => {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
  };
  const over = (top, bottom) => {
    const a = top[3];
    return [0, 1, 2].map(i => top[i] * a + bottom[i] * (1 - a)).concat(1);
  };
  const background = (el) => {
    const layers = [];
    for (let node = el; node; node = node.parentElement) {
      const color = rgba(getComputedStyle(node).backgroundColor);
      if (color[3] > 0) layers.push(color);
      if (color[3] >= 1) break;
    }
    let result = [255, 255, 255, 1];
    for (const layer of layers.reverse()) result = over(layer, result);
    return result;
  };
  const failures = [];
  for (const el of document.querySelectorAll('body *')) {
    const own = [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
    if (!own) continue;
    const style = getComputedStyle(el);
    const box = el.getBoundingClientRect();
    if (style.visibility === 'hidden' || box.width === 0 || box.height === 0) continue;
    if (el.closest('[hidden], dialog:not([open])')) continue;
    const back = background(el);
    const fore = over(rgba(style.color), back);
    const [hi, lo] = [luminance(fore), luminance(back)].sort((x, y) => y - x);
    const ratio = (hi + 0.05) / (lo + 0.05);
    const size = parseFloat(style.fontSize);
    const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
    if (ratio < (large ? 3 : 4.5)) {
      const name = el.dataset.testid || el.id || el.tagName;
      failures.push(`${name}: ${ratio.toFixed(2)} "${el.textContent.trim().slice(0, 30)}"`);
    }
  }
  return failures;
}
"""

# Whether the focused element shows it: an outline or a box shadow.
FOCUS_SHOWN = """
() => {
  const el = document.activeElement;
  if (!el || el === document.body) return false;
  const style = getComputedStyle(el);
  const outline = style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0;
  return outline || style.boxShadow !== 'none';
}
"""


async def _audit_page(page: Page, path: str) -> list[str]:
    await page.goto(path)
    await page.wait_for_load_state("networkidle")
    problems: list[str] = []
    unnamed: Any = await page.evaluate(UNNAMED)
    problems += [f"{path}: no accessible name: {name}" for name in unnamed]
    low: Any = await page.evaluate(LOW_CONTRAST)
    problems += [f"{path}: low contrast: {item}" for item in low]
    return problems


async def test_controls_are_named_and_text_is_readable_on_every_main_page(
    server: RunningServer, browser: Browser
) -> None:
    case_id = int((await create_case(await server.sign_in("bs.namcan")))["id"])
    pages = {
        "bs.namcan": ["/", "/cases/new", f"/cases/{case_id}", "/account/password"],
        "gs.chutoa": ["/", f"/cases/{case_id}", "/inbox"],
        "kiemtra": ["/audit", "/stats", "/admin/users", "/admin/councils", "/admin/facilities"],
    }
    problems: list[str] = []
    anonymous = await open_page(browser, server, "nobody")
    problems += await _audit_page(anonymous.page, "/login")
    for username, paths in pages.items():
        person = await sign_in(browser, server, username)
        for path in paths:
            problems += await _audit_page(person.page, path)
        person.assert_clean()
    assert problems == []


async def test_the_keyboard_alone_signs_in_with_a_visible_focus(
    server: RunningServer, browser: Browser
) -> None:
    person = await open_page(browser, server, "bs.namcan")
    page = person.page
    await page.goto("/login")
    focused: list[str] = []
    for _ in range(10):
        await page.keyboard.press("Tab")
        name = await page.evaluate("document.activeElement?.name || ''")
        assert await page.evaluate(FOCUS_SHOWN), f"focus not visible after Tab ({name!r})"
        if name == "username":
            break
        focused.append(name)
    await page.keyboard.type("bs.namcan")
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.name") == "password"
    assert await page.evaluate(FOCUS_SHOWN)
    await page.keyboard.type(DEMO_PASSWORD)
    await page.keyboard.press("Enter")
    await expect(page).to_have_url(re.compile(r"/$"))
    await expect(page.get_by_test_id("current-user")).to_contain_text("bs.namcan")

    # On the signed-in page, every stop of the Tab order shows where the focus is.
    for _ in range(8):
        await page.keyboard.press("Tab")
        assert await page.evaluate(FOCUS_SHOWN)
    person.assert_clean()
