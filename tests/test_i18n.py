"""Translations: catalogs (compiled or not), the language of a request, translated pages."""

from __future__ import annotations

import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import jinja2
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from telemed.i18n import LOCALE_DIR, Catalogs, compile_po, install, language_var
from telemed.pages.modules import install as install_modules
from tests.support.server import RunningServer

ROOT = Path(__file__).resolve().parent.parent
VI_PO = LOCALE_DIR / "vi" / "LC_MESSAGES" / "messages.po"


def template_messages() -> set[str]:
    found = extract_from_dir(str(ROOT / "web" / "templates"), method_map=[("**.html", "jinja2")])
    return {message if isinstance(message, str) else message[0] for _, _, message, *_ in found}


def environment(catalogs: Catalogs) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(ROOT / "web" / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    install(env, catalogs)
    install_modules(env, ROOT / "web" / "static" / "js")
    return env


def test_every_template_message_has_a_vietnamese_translation() -> None:
    with VI_PO.open("rb") as stream:
        catalog = read_po(stream, locale="vi")
    translated = {m.id: m.string for m in catalog if m.id and not m.fuzzy}
    messages = template_messages()
    assert "Consultation minutes" in messages
    missing = sorted(m for m in messages if not translated.get(m))
    assert missing == []
    assert translated["Consultation minutes"] == "Biên bản hội chẩn"
    assert translated["Chair"] == "Chủ tọa"
    assert not catalog.fuzzy


def test_catalog_compiles_in_memory_when_the_mo_is_missing(tmp_path: Path) -> None:
    target = tmp_path / "vi" / "LC_MESSAGES"
    target.mkdir(parents=True)
    shutil.copy(VI_PO, target / "messages.po")
    catalogs = Catalogs.load(tmp_path)
    assert catalogs.get("vi").gettext("Sign in") == "Đăng nhập"
    assert catalogs.get("en").gettext("Sign in") == "Sign in"


def test_a_compiled_mo_is_used_unless_its_po_is_newer(tmp_path: Path) -> None:
    target = tmp_path / "vi" / "LC_MESSAGES"
    target.mkdir(parents=True)
    po = target / "messages.po"
    po.write_text(VI_PO.read_text().replace('msgstr "Đăng nhập"', 'msgstr "Vào hệ thống"'))
    (target / "messages.mo").write_bytes(compile_po(VI_PO))
    os.utime(po, (1_000_000, 1_000_000))
    assert Catalogs.load(tmp_path).get("vi").gettext("Sign in") == "Đăng nhập"
    os.utime(target / "messages.mo", (1_000, 1_000))
    assert Catalogs.load(tmp_path).get("vi").gettext("Sign in") == "Vào hệ thống"


def test_the_query_wins_over_the_cookie_and_unknown_languages_fall_back() -> None:
    catalogs = Catalogs.load()
    assert catalogs.choose(None, None) == "vi"
    assert catalogs.choose("en", None) == "en"
    assert catalogs.choose(None, "en") == "en"
    assert catalogs.choose("vi", "en") == "vi"
    assert catalogs.choose("EN", None) == "en"
    assert catalogs.choose("fr", "en") == "en"
    assert catalogs.choose("xx", "yy") == "vi"


def test_translated_variables_are_escaped() -> None:
    env = environment(Catalogs.load())
    template = env.from_string("{% trans name=x %}Hello, {{ name }}{% endtrans %}|{{ _('Yes') }}")
    assert template.render(x="<b>") == "Xin chào, &lt;b&gt;|Có"
    assert template.render(x="<b>", lang="en") == "Hello, &lt;b&gt;|Yes"


def test_concurrent_renders_keep_their_own_language() -> None:
    env = environment(Catalogs.load())
    template = env.get_template("login.html")

    def render(index: int) -> tuple[str, str]:
        lang = ("vi", "en")[index % 2]
        token = language_var.set(lang)
        try:
            return lang, template.render()
        finally:
            language_var.reset(token)

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(render, range(200)))
    for lang, html in results:
        assert f'<html lang="{lang}">' in html
        assert ("<h1>Đăng nhập</h1>" in html) == (lang == "vi")
        assert ("<h1>Sign in</h1>" in html) == (lang == "en")


async def test_pages_speak_vietnamese_by_default_and_english_on_request(
    server: RunningServer,
) -> None:
    http = server.http()
    async with http.get("/login") as response:
        html = await response.text()
    assert '<html lang="vi">' in html
    for phrase in ["<h1>Đăng nhập</h1>", "Tên đăng nhập", "Mật khẩu", "Hội chẩn từ xa"]:
        assert phrase in html
    async with http.get("/login?lang=en") as response:
        html = await response.text()
    assert '<html lang="en">' in html
    for phrase in ["<h1>Sign in</h1>", "Username", "Password", "Remote consultation"]:
        assert phrase in html
    assert "Đăng nhập" not in html


async def test_the_lang_cookie_chooses_for_signed_in_pages_and_errors(
    server: RunningServer,
) -> None:
    doctor = await server.sign_in("bs.namcan")
    async with doctor.http.get("/") as response:
        html = await response.text()
    assert "Xin chào, BS. Nguyễn Văn Nam" in html
    assert "Đăng xuất" in html
    doctor.http.cookie_jar.update_cookies({"lang": "en"})
    async with doctor.http.get("/") as response:
        html = await response.text()
    assert "Hello, BS. Nguyễn Văn Nam" in html
    assert "Sign out" in html
    async with doctor.http.get("/no-such-page") as response:
        assert response.status == 404
        assert "<h1>Error 404</h1>" in await response.text()
    async with doctor.http.get("/no-such-page?lang=vi") as response:
        assert "<h1>Lỗi 404</h1>" in await response.text()
