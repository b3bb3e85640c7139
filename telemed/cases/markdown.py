"""A small, safe Markdown subset for notes: emphasis, lists, code, links; never raw HTML."""

from __future__ import annotations

from functools import lru_cache

from markdown_it import MarkdownIt


@lru_cache(maxsize=1)
def _renderer() -> MarkdownIt:
    # html=False escapes any HTML in the source; images are off (no outside fetches from
    # a clinical page); markdown-it's link validation already refuses javascript: URLs.
    return MarkdownIt(
        "commonmark", {"html": False, "linkify": False, "typographer": False}
    ).disable(["image", "html_inline", "html_block"])


def render(text: str) -> str:
    html: str = _renderer().render(text)
    return html
