"""Calling the HTTP API as a signed-in user, as the browser would."""

from __future__ import annotations

from typing import Any

from telemed.accounts.demo import DEMO_PASSWORD
from tests.support.server import SignedIn


async def call(
    who: SignedIn,
    method: str,
    path: str,
    body: object = None,
    expect: int | None = 200,
    *,
    cookie: bool = False,
) -> Any:
    """The JSON answer to ``method path`` sent as ``who``, with the bearer token or (with
    ``cookie``) as the browser sends it: the session cookie and its CSRF token. Its status
    must be ``expect`` unless that is None."""
    headers = {"X-CSRF-Token": who.csrf_token} if cookie else who.bearer
    async with who.http.request(method, path, json=body, headers=headers) as response:
        data = await response.json()
        if expect is not None:
            assert response.status == expect, (response.status, data)
        return data


async def step_up(who: SignedIn, password: str = DEMO_PASSWORD, *, cookie: bool = False) -> None:
    """``who`` re-enters their password, as a chair does before signing a decision."""
    await call(who, "POST", "/api/v1/session/step-up", {"password": password}, cookie=cookie)
