"""JSON bodies: every route that reads one takes ``application/json`` and nothing else,
so a cross-site form (text/plain, form-encoded, multipart) never reaches a JSON route."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.support.server import RunningServer, SignedIn

CROSS_SITE_TYPES = [
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    None,
]


async def json_routes(server: RunningServer) -> list[tuple[str, str]]:
    async with server.http().get("/api/v1/openapi.json") as response:
        document: dict[str, Any] = await response.json()
    return [
        (method.upper(), re.sub(r"{\w+}", "1", path))
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        # Uploads declare a multipart body: they are not JSON routes.
        if "application/json" in operation.get("requestBody", {}).get("content", {})
    ]


async def post_as(
    who: SignedIn, method: str, path: str, content_type: str | None
) -> tuple[int, Any, bool]:
    headers = {**who.bearer, **({"Content-Type": content_type} if content_type else {})}
    body = b'{"username": "bs.namcan", "password": "telemed-demo", "token": "' + b"t" * 43 + b'"}'
    async with who.http.request(method, path, data=body, headers=headers) as response:
        return response.status, await response.json(), "Set-Cookie" in response.headers


@pytest.mark.parametrize("content_type", CROSS_SITE_TYPES)
async def test_every_json_route_refuses_other_content_types_with_415(
    server: RunningServer, content_type: str | None
) -> None:
    doctor = await server.sign_in("bs.namcan")
    routes = await json_routes(server)
    assert ("POST", "/api/v1/auth/login") in routes
    assert len(routes) >= 8
    for method, path in routes:
        status, body, sets_cookie = await post_as(doctor, method, path, content_type)
        assert (status, body["error"]["code"]) == (415, "unsupported_media_type"), path
        assert "application/json" in body["error"]["message"]
        assert not sets_cookie, path


async def test_a_json_body_with_a_charset_is_read(server: RunningServer) -> None:
    http = server.http()
    async with http.post(
        "/api/v1/auth/login",
        data=b'{"username": "bs.namcan", "password": "telemed-demo"}',
        headers={"Content-Type": "application/json; charset=utf-8"},
    ) as response:
        assert response.status == 200
