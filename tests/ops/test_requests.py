"""The client address and scheme honour X-Forwarded-For and X-Forwarded-Proto only from
trusted proxies."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from telemed.accounts.demo import DEMO_PASSWORD
from telemed.clock import ManualClock
from telemed.http.requests import client_address
from telemed.settings import Settings
from tests.support.server import running


@pytest.mark.parametrize(
    ("peer", "forwarded", "trusted", "expected"),
    [
        ("203.0.113.5", None, [], "203.0.113.5"),
        ("203.0.113.5", "198.51.100.1", [], "203.0.113.5"),
        ("203.0.113.5", "198.51.100.1", ["10.0.0.0/8"], "203.0.113.5"),
        ("10.0.0.2", "198.51.100.1", ["10.0.0.0/8"], "198.51.100.1"),
        ("10.0.0.2", "6.6.6.6, 198.51.100.1, 10.0.0.9", ["10.0.0.0/8"], "198.51.100.1"),
        ("10.0.0.2", "10.0.0.7", ["10.0.0.0/8"], "10.0.0.7"),
        ("::1", "2001:db8::1", ["::1"], "2001:db8::1"),
        ("10.0.0.2", "garbage", ["10.0.0.0/8"], "10.0.0.2"),
        ("10.0.0.2", "1.2.3.4, garbage", ["10.0.0.0/8"], "10.0.0.2"),
    ],
)
def test_client_address(
    peer: str, forwarded: str | None, trusted: list[str], expected: str
) -> None:
    assert client_address(peer, forwarded, trusted) == expected


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    ("trusted", "proto", "origin", "status"),
    [
        # nginx on loopback says the client used https: the https page is the server's own.
        (["127.0.0.1/32"], "https", "https", 200),
        # Without the header the request is what it looks like: plain http.
        (["127.0.0.1/32"], None, "https", 403),
        (["127.0.0.1/32"], None, "http", 200),
        # From anyone but a trusted proxy the header changes nothing.
        ([], "https", "https", 403),
        (["10.0.0.0/8"], "https", "https", 403),
        # Only http and https are schemes a proxy may name.
        (["127.0.0.1/32"], "javascript", "javascript", 403),
    ],
)
async def test_the_scheme_the_client_used_is_believed_only_from_trusted_proxies(
    make_settings: Callable[..., Settings],
    clock: ManualClock,
    trusted: list[str],
    proto: str | None,
    origin: str,
    status: int,
) -> None:
    async with running(make_settings(trusted_proxies=trusted), clock) as server:
        host = server.url.split("://", 1)[1]
        headers = {"Origin": f"{origin}://{host}"}
        if proto is not None:
            headers["X-Forwarded-Proto"] = proto
        body = {"username": "gs.chutoa", "password": DEMO_PASSWORD}
        async with server.http().post("/api/v1/auth/login", json=body, headers=headers) as response:
            assert response.status == status
