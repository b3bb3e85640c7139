"""The pages over HTTP: who gets which page, the language cookie, error pages in the
user's language, no inline script or style, and the browser's string catalogs."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.support.cases import in_session_case
from tests.support.guests import guest_from, invite
from tests.support.server import RunningServer

ROOT = Path(__file__).resolve().parents[2]
STATIC = ROOT / "web" / "static"
PAGES = ["/", "/cases/new", "/cases/1", "/audit", "/stats", "/account/password"]
PAGES += ["/admin/users", "/admin/councils", "/admin/facilities", "/inbox"]


@pytest.mark.parametrize("path", PAGES)
async def test_signed_out_people_are_sent_to_sign_in(server: RunningServer, path: str) -> None:
    async with server.http().get(path, allow_redirects=False) as response:
        assert response.status == 302
        assert response.headers["Location"] == "/login"


async def test_each_role_gets_its_pages_and_others_a_translated_refusal(
    server: RunningServer,
) -> None:
    doctor, chair, admin = [await server.sign_in(n) for n in ("bs.namcan", "gs.chutoa", "kiemtra")]
    allowed = [(doctor, "/cases/new"), (admin, "/audit"), (admin, "/stats")]
    allowed += [(admin, "/admin/users"), (admin, "/admin/councils"), (admin, "/admin/facilities")]
    allowed += [(doctor, "/account/password"), (chair, "/account/password")]
    allowed += [(doctor, "/inbox"), (chair, "/inbox")]
    for who, path in allowed:
        async with who.http.get(path) as response:
            assert response.status == 200, path
    refused = [(chair, "/cases/new"), (doctor, "/audit"), (chair, "/stats")]
    refused += [(doctor, "/admin/users"), (chair, "/admin/councils"), (doctor, "/admin/facilities")]
    for who, path in refused:
        async with who.http.get(path) as response:
            assert response.status == 403, path
            html = await response.text()
        assert "<h1>Lỗi 403</h1>" in html
        assert "Bạn không có quyền mở trang này." in html
    async with chair.http.get("/no-such-page?lang=en") as response:
        html = await response.text()
    assert "This page does not exist, or it concerns a case you may not see." in html
    assert "No such resource." not in html  # the API's English message stays in the API


async def test_a_guest_is_sent_to_their_case_room_and_offered_no_other_page(
    server: RunningServer,
) -> None:
    case_id, chair = await in_session_case(server)
    guest = await guest_from(server, await invite(chair, case_id))
    async with guest.http.get("/", headers=guest.bearer, allow_redirects=False) as response:
        assert response.status == 302
        assert response.headers["Location"] == f"/cases/{case_id}"
    async with guest.http.get(f"/cases/{case_id}", headers=guest.bearer) as response:
        assert response.status == 200
        html = await response.text()
    assert re.findall(r'<nav class="mainnav"[^>]*>\s*</nav>', html)
    assert 'href="/audit"' not in html
    assert 'href="/stats"' not in html
    assert 'href="/account/password"' not in html
    async with guest.http.get("/account/password", headers=guest.bearer) as response:
        assert response.status == 403


async def test_the_new_request_form_offers_the_councils(server: RunningServer) -> None:
    doctor = await server.sign_in("bs.namcan")
    async with doctor.http.get("/cases/new") as response:
        html = await response.text()
    assert '<option value="HDCM-MIENNAM">' in html
    assert '<option value="HDCM-TW">' in html


async def test_a_chosen_language_is_kept_in_a_cookie(server: RunningServer) -> None:
    http = server.http()
    async with http.get("/login?lang=en") as response:
        assert response.cookies["lang"].value == "en"
    async with http.get("/login") as response:
        assert "<h1>Sign in</h1>" in await response.text()
    async with http.get("/login?lang=xx") as response:
        assert "lang" not in response.cookies


async def test_pages_pass_the_idle_timeout_and_hold_no_inline_script_or_style(
    server: RunningServer,
) -> None:
    people = {n: await server.sign_in(n) for n in ("bs.namcan", "gs.chutoa", "kiemtra")}
    visits = [("bs.namcan", "/"), ("bs.namcan", "/cases/new"), ("gs.chutoa", "/cases/1")]
    visits += [("gs.chutoa", "/"), ("kiemtra", "/"), ("kiemtra", "/audit"), ("kiemtra", "/stats")]
    visits += [("kiemtra", f"/admin/{part}") for part in ("users", "councils", "facilities")]
    visits += [("bs.namcan", "/account/password")]
    for name, path in visits:
        async with people[name].http.get(path) as response:
            html = await response.text()
        assert f'data-idle-timeout="{server.settings.session_idle_timeout}"' in html
        assert re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html) is None, path
        assert " style=" not in html, path
        assert "<style" not in html, path
        assert re.search(r"<[^>]*\son\w+\s*=", html) is None, path


TEMPLATES = ROOT / "web" / "templates"
SEARCH_FORMS = {"case-search", "audit-filters", "stats-filters"}


def test_every_form_that_carries_data_posts_and_only_searches_use_get() -> None:
    """Scripts handle every form; one submitted before its script has run (a slow module)
    must not put what it carries (a password, a note) in an address or a server log."""
    forms = [
        (template.name, tag)
        for template in TEMPLATES.glob("*.html")
        for tag in re.findall(r"<form\b[^>]*>", template.read_text("utf-8"))
    ]
    assert len(forms) > 20, forms
    for name, tag in forms:
        method = re.search(r'\smethod="(\w+)"', tag)
        form_id = re.search(r'\sid="([\w-]+)"', tag)
        assert method is not None, (name, tag)
        if method[1] == "get":
            assert form_id is not None, (name, tag)
            assert form_id[1] in SEARCH_FORMS, (name, tag)
        else:
            assert method[1] in {"post", "dialog"}, (name, tag)


def _catalog(lang: str) -> dict[str, str]:
    data: dict[str, str] = json.loads((STATIC / "i18n" / f"{lang}.json").read_text("utf-8"))
    return data


def test_the_browser_catalogs_hold_every_key_the_scripts_use() -> None:
    en, vi = _catalog("en"), _catalog("vi")
    assert set(en) == set(vi)
    used: set[str] = set()
    for script in (STATIC / "js").glob("*.js"):
        used |= set(re.findall(r'\bt\(\s*"([\w.]+)"', script.read_text("utf-8")))
    assert used, 'no t("...") call found'
    assert sorted(used - set(en)) == []
    assert vi["status.in_session"] == "Đang hội chẩn"
    assert all(vi[k] != en[k] for k in ("yes", "no", "status.requested", "urgency.emergency"))
    for text in (*en.values(), *vi.values()):
        assert "<" not in text, "catalog strings are inserted as text"
