"""Every kind of response (page, API, error, static file, Socket.IO) carries the security
headers and does not say which server software and Python version answered."""

from __future__ import annotations

import pytest

from tests.support.server import RunningServer

REQUESTS = {
    "page": ("GET", "/login"),
    "api": ("GET", "/api/v1/openapi.json"),
    "api error": ("GET", "/api/v1/cases"),
    "no such route": ("GET", "/api/v1/no-such-thing"),
    "wrong method": ("DELETE", "/healthz"),
    "health": ("GET", "/healthz"),
    "static file": ("GET", "/static/css/app.css"),
    "socket.io handshake": ("GET", "/socket.io/?EIO=4&transport=polling"),
}


@pytest.mark.parametrize("kind", list(REQUESTS))
async def test_no_response_names_the_server_software(server: RunningServer, kind: str) -> None:
    method, path = REQUESTS[kind]
    async with server.http().request(method, path) as response:
        await response.read()
        headers = response.headers
    assert "Server" not in headers, headers.get("Server")
    assert headers["X-Content-Type-Options"] == "nosniff"
