"""Static scripts, styles and catalogs are sent gzip-compressed to browsers that accept
it, byte for byte the file once decompressed; pages, images and the API are not."""

from __future__ import annotations

import gzip
from pathlib import Path

import aiohttp
import pytest
from multidict import CIMultiDict

from tests.support.server import RunningServer

STATIC = Path(__file__).resolve().parents[2] / "web" / "static"


async def _raw(
    server: RunningServer, path: str, encoding: str
) -> tuple[int, CIMultiDict[str], bytes]:
    """Status, headers and the bytes on the wire (no automatic decompression)."""
    async with (
        aiohttp.ClientSession(base_url=server.url, auto_decompress=False) as raw,
        raw.get(path, headers={"Accept-Encoding": encoding}) as response,
    ):
        return response.status, CIMultiDict(response.headers), await response.read()


@pytest.mark.parametrize(
    ("path", "file"),
    [
        ("/static/js/call.js", "js/call.js"),
        ("/static/css/app.css", "css/app.css"),
        ("/static/i18n/vi.json", "i18n/vi.json"),
    ],
)
async def test_static_text_is_gzipped_when_accepted(
    server: RunningServer, path: str, file: str
) -> None:
    original = (STATIC / file).read_bytes()
    status, headers, body = await _raw(server, path, "gzip, deflate, br")
    assert status == 200
    assert headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(body) == original
    assert len(body) < len(original) / 2

    status, headers, body = await _raw(server, path, "identity")
    assert status == 200
    assert "Content-Encoding" not in headers
    assert body == original


async def test_pages_and_the_api_are_never_compressed(server: RunningServer) -> None:
    for path in ("/login", "/api/v1/openapi.json", "/healthz"):
        status, headers, _body = await _raw(server, path, "gzip")
        assert status == 200, path
        assert "Content-Encoding" not in headers, path
