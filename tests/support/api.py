"""Calling the HTTP API as a signed-in user, as the browser would."""

from __future__ import annotations

from typing import Any

from tests.support.server import SignedIn


async def call(
    who: SignedIn, method: str, path: str, body: object = None, expect: int | None = 200
) -> Any:
    """The JSON answer to ``method path`` sent as ``who`` (bearer token); its status must be
    ``expect`` unless that is None."""
    async with who.http.request(method, path, json=body, headers=who.bearer) as response:
        data = await response.json()
        if expect is not None:
            assert response.status == expect, (response.status, data)
        return data
