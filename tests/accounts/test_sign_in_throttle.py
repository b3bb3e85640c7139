"""Sign-in throttling under attack: concurrent guesses, other processes, a locked-out
victim on a known device, a shared hospital address. Real servers, real databases."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from telemed.accounts.devices import device_cookie_name
from telemed.clock import ManualClock
from telemed.settings import Settings
from tests.support.processes import ServerProcess
from tests.support.server import RunningServer

VICTIM = "bs.namcan"
RIGHT = "telemed-demo"
LIMIT = 5  # TELEMED_LOGIN_MAX_FAILURES_PER_ACCOUNT's default
ADDRESS_LIMIT = 6  # this module's TELEMED_LOGIN_MAX_FAILURES_PER_ADDRESS


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    # Requests may carry X-Forwarded-For, believed from loopback; a small limit per
    # address keeps the sprayer short.
    return make_settings(trusted_proxies=["127.0.0.1/32"], login_max_failures_per_address=6)


async def attempt(
    http: aiohttp.ClientSession,
    password: str,
    username: str = VICTIM,
    *,
    url: str = "",
    headers: dict[str, str] | None = None,
) -> int:
    async with http.post(
        f"{url}/api/v1/auth/login",
        json={"username": username, "password": password},
        headers=headers,
    ) as response:
        await response.read()
        return response.status


async def concurrent_guesses(
    http: aiohttp.ClientSession, count: int, url: str = "", username: str = VICTIM
) -> Counter[int]:
    statuses = await asyncio.gather(
        *(attempt(http, f"guess-{n}", username, url=url) for n in range(count))
    )
    return Counter(statuses)


async def test_forty_simultaneous_wrong_guesses_get_only_the_limit_evaluated(
    server: RunningServer,
) -> None:
    # A 401 is answered only after the password was verified; a 429 before any hashing.
    assert await concurrent_guesses(server.http(), 40) == {401: LIMIT, 429: 40 - LIMIT}


async def test_two_server_processes_share_one_limit(database_url: str, tmp_path: Path) -> None:
    env = {"TELEMED_LOGIN_SLOWDOWN_SECONDS": "0"}
    servers = [ServerProcess(database_url, tmp_path / name, env) for name in ("a", "b")]
    try:
        await asyncio.gather(*(server.start() for server in servers))
        async with aiohttp.ClientSession() as http:
            both = await asyncio.gather(
                *(concurrent_guesses(http, 20, url=server.url) for server in servers)
            )
            # Right passwords beyond the limit at once wait for the attempts being
            # verified (which hand their place back) instead of being refused.
            rights = await asyncio.gather(
                *(
                    attempt(http, RIGHT, "gs.chutoa", url=servers[n % 2].url)
                    for n in range(2 * LIMIT)
                )
            )
    finally:
        await asyncio.gather(*(server.stop() for server in servers))
    assert both[0] + both[1] == {401: LIMIT, 429: 40 - LIMIT}
    assert rights == [200] * 2 * LIMIT


async def known_device(server: RunningServer) -> aiohttp.ClientSession:
    """The victim's own browser: signed in once, so it holds a known-device cookie."""
    browser = server.http()
    assert await attempt(browser, RIGHT) == 200
    names = [cookie.key for cookie in browser.cookie_jar]
    assert device_cookie_name(VICTIM) in names
    return browser


async def test_a_victim_on_a_known_device_signs_in_while_the_attacker_is_locked_out(
    server: RunningServer,
) -> None:
    browser = await known_device(server)
    attacker = server.http()
    assert (await concurrent_guesses(attacker, 40))[429] == 40 - LIMIT
    # Even the right password is refused to a client the account has never signed in from...
    assert await attempt(attacker, RIGHT) == 429
    # ...and to a forged device cookie...
    forged = server.http()
    forged.cookie_jar.update_cookies({device_cookie_name(VICTIM): "x.1.forged"})
    assert await attempt(forged, RIGHT) == 429
    # ...but the victim's own browser gets in, and again after that.
    assert await attempt(browser, RIGHT) == 200
    assert await attempt(browser, RIGHT) == 200


async def test_a_known_device_cookie_gives_no_extra_guesses(server: RunningServer) -> None:
    """A stolen device cookie is throttled on its own: the limit, then 429 for that cookie."""
    browser = await known_device(server)
    statuses = [await attempt(browser, "wrong-wrong") for _ in range(LIMIT + 1)]
    assert statuses == [401] * LIMIT + [429]
    assert await attempt(browser, RIGHT) == 429
    assert await attempt(server.http(), RIGHT) == 200  # untrusted clients are not locked


async def test_a_busy_hospital_address_does_not_lock_out_its_known_devices(
    server: RunningServer,
) -> None:
    browser = await known_device(server)
    sprayer = server.http()  # same address: behind the hospital's one NAT address
    statuses = [await attempt(sprayer, "x", f"guess{n}") for n in range(ADDRESS_LIMIT + 1)]
    assert statuses == [401] * ADDRESS_LIMIT + [429]
    assert await attempt(server.http(), RIGHT, "gs.chutoa") == 429  # a new device waits
    assert await attempt(browser, RIGHT) == 200


def from_address(address: str) -> dict[str, Any]:
    return {"headers": {"X-Forwarded-For": address}}


async def test_the_slowdown_grows_per_account_and_address_not_for_everyone(
    server: RunningServer, clock: ManualClock
) -> None:
    attacker, victim = server.http(), server.http()
    for _ in range(3):
        assert await attempt(attacker, "wrong-wrong", **from_address("203.0.113.9")) == 401
    assert clock.sleeps == [0.5]
    # The victim mistypes from the hospital: no wait for them, then in.
    assert await attempt(victim, "wrong-wrong", **from_address("198.51.100.7")) == 401
    assert clock.sleeps == [0.5]
    assert await attempt(victim, RIGHT, **from_address("198.51.100.7")) == 200
