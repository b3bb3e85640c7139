"""Documents the server renders (the minutes in HTML and PDF), fetched as a signed-in user
and read as a person would: their visible text."""

from __future__ import annotations

from html.parser import HTMLParser

from tests.support.server import SignedIn


async def get(who: SignedIn, path: str, expect: int = 200) -> tuple[bytes, str]:
    """A document that is not JSON (the minutes in HTML or PDF): its bytes and media type."""
    async with who.http.get(path, headers=who.bearer) as response:
        body = await response.read()
        assert response.status == expect, (response.status, body[:300])
        return body, response.content_type


class TextOf(HTMLParser):
    """The visible text of a page, one string, whitespace collapsed."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)

    @classmethod
    def of(cls, html: str) -> str:
        parser = cls()
        parser.feed(html)
        return " ".join(" ".join(parser.parts).split())
