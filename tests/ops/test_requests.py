"""The client address honours X-Forwarded-For only from trusted proxies."""

from __future__ import annotations

import pytest

from telemed.http.requests import client_address


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
