"""Translations of pages: gettext catalogs, the language of a request, Jinja2's i18n tags.

Templates are written with English msgids (``{% trans %}``, ``_()``); Vietnamese is the
default language. Catalogs live in ``telemed/locale/<lang>/LC_MESSAGES/messages.po`` and
are compiled to ``.mo`` at install time (``scripts/install``); when the ``.mo`` is missing
or older than its ``.po`` the ``.po`` is compiled in memory, so nothing depends on the
order in which the install steps ran.

How one Jinja2 environment serves every language at once: the environment's gettext
callables are installed once, at start-up, and never changed again. Each call finds its
translations at render time: in the render context when the caller passed them
(:meth:`Catalogs.context`, e.g. the minutes rendered for a PDF), otherwise from
``language_var``, the language of the current request, which a middleware sets from
``?lang=`` or the ``lang`` cookie. A ContextVar belongs to one asyncio task (and is copied
into ``asyncio.to_thread`` workers), so concurrent requests never see each other's
language. The alternative, ``install_gettext_translations`` per request, mutates globals
shared by every concurrent render, so one request could be rendered in another's
language; an environment per language would double the template caches and make every
caller pick the right environment.
"""

from __future__ import annotations

import gettext
import io
from collections.abc import Iterable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import jinja2
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations
from jinja2.runtime import Context

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DOMAIN = "messages"
DEFAULT_LANGUAGE = "vi"
# English is the language of the msgids: it needs no catalog of its own.
SOURCE_LANGUAGE = "en"
LANGUAGES = ("vi", "en")
LANGUAGE_COOKIE = "lang"

# The language of the request being handled (None outside a request: the default).
language_var: ContextVar[str | None] = ContextVar("language", default=None)


class LanguageHints(Protocol):
    """What a request offers to choose a language from (an aiohttp request has both)."""

    @property
    def query(self) -> Mapping[str, str]: ...

    @property
    def cookies(self) -> Mapping[str, str]: ...


def load_translations(locale_dir: Path, lang: str) -> gettext.NullTranslations:
    """The compiled catalog of ``lang``, compiled in memory from the .po when needed."""
    messages = locale_dir / lang / "LC_MESSAGES"
    mo_path, po_path = messages / f"{DOMAIN}.mo", messages / f"{DOMAIN}.po"
    mo_fresh = mo_path.is_file() and (
        not po_path.is_file() or mo_path.stat().st_mtime >= po_path.stat().st_mtime
    )
    if mo_fresh:
        with mo_path.open("rb") as stream:
            return Translations(stream, domain=DOMAIN)
    if po_path.is_file():
        return Translations(io.BytesIO(compile_po(po_path)), domain=DOMAIN)
    if lang == SOURCE_LANGUAGE:
        return gettext.NullTranslations()
    raise FileNotFoundError(f"no catalog for language {lang!r} under {locale_dir}")


def compile_po(po_path: Path) -> bytes:
    """The .mo bytes of a .po file, as ``pybabel compile -f`` would write them."""
    with po_path.open("rb") as stream:
        catalog = read_po(stream, locale=po_path.parent.parent.name, domain=DOMAIN)
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=True)
    return buffer.getvalue()


@dataclass(frozen=True)
class Catalogs:
    """Every language's translations, loaded once at start-up and only read afterwards."""

    translations: Mapping[str, gettext.NullTranslations]
    default: str = DEFAULT_LANGUAGE

    @classmethod
    def load(
        cls,
        locale_dir: Path = LOCALE_DIR,
        languages: Iterable[str] = LANGUAGES,
        default: str = DEFAULT_LANGUAGE,
    ) -> Catalogs:
        return cls({lang: load_translations(locale_dir, lang) for lang in languages}, default)

    def get(self, lang: str) -> gettext.NullTranslations:
        return self.translations.get(lang) or self.translations[self.default]

    def choose(self, query: str | None, cookie: str | None) -> str:
        """``?lang=`` first, then the ``lang`` cookie, then the default; unknown ones skipped."""
        for candidate in (query, cookie):
            if candidate:
                lang = candidate.strip().lower()
                if lang in self.translations:
                    return lang
        return self.default

    def language_of(self, request: LanguageHints) -> str:
        return self.choose(request.query.get("lang"), request.cookies.get(LANGUAGE_COOKIE))

    def context(self, lang: str) -> dict[str, Any]:
        """The template variables that make one render speak ``lang``, whatever the request."""
        return {"lang": lang if lang in self.translations else self.default}


def install(env: jinja2.Environment, catalogs: Catalogs) -> None:
    """Give ``env`` the i18n tags and ``language()``, resolved per render (see above)."""
    env.add_extension("jinja2.ext.i18n")

    def current(context: Context) -> str:
        explicit = context.get("lang")
        if isinstance(explicit, str) and explicit in catalogs.translations:
            return explicit
        return language_var.get() or catalogs.default

    @jinja2.pass_context
    def _gettext(context: Context, message: str) -> str:
        return catalogs.get(current(context)).gettext(message)

    @jinja2.pass_context
    def _ngettext(context: Context, singular: str, plural: str, n: int) -> str:
        return catalogs.get(current(context)).ngettext(singular, plural, n)

    @jinja2.pass_context
    def language(context: Context) -> str:
        return current(context)

    # newstyle: Jinja2 escapes the %-formatted variables and marks the result safe.
    env.install_gettext_callables(  # type: ignore[attr-defined]
        _gettext, _ngettext, newstyle=True
    )
    env.globals["language"] = language
