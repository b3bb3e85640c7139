"""A real Telemed server on an ephemeral port, and real HTTP clients signed in to it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp
import socketio
from aiohttp import web
from aiohttp.test_utils import TestServer

from telemed.accounts.demo import DEMO_PASSWORD
from telemed.app import create_app
from telemed.clock import Clock
from telemed.settings import Settings

# Every demo account (PRODUCT.md, "Demo data").
DEMO_ACCOUNTS = (
    "bs.namcan",
    "bs.uminh",
    "gs.chutoa",
    "ts.thuky",
    "gs.timmach",
    "gs.thankinh",
    "kiemtra",
)


@dataclass
class SignedIn:
    """A user signed in through the API: a cookie-carrying session and the bearer token."""

    username: str
    token: str
    csrf_token: str
    user: dict[str, Any]
    http: aiohttp.ClientSession

    @property
    def bearer(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


class RunningServer:
    def __init__(self, settings: Settings, clock: Clock) -> None:
        self.settings = settings
        self.app: web.Application = create_app(settings, clock=clock)
        self._server = TestServer(self.app, host="127.0.0.1", port=0)
        self._sessions: list[aiohttp.ClientSession] = []

    async def start(self) -> None:
        await self._server.start_server()

    async def close(self) -> None:
        for http in self._sessions:
            await http.close()
        await self._server.close()

    @property
    def url(self) -> str:
        return str(self._server.make_url("")).rstrip("/")

    def http(self) -> aiohttp.ClientSession:
        """A fresh client with its own cookie jar (cookies kept for 127.0.0.1 too)."""
        http = aiohttp.ClientSession(base_url=self.url, cookie_jar=aiohttp.CookieJar(unsafe=True))
        self._sessions.append(http)
        return http

    def socket(self) -> socketio.AsyncClient:
        """A Socket.IO client whose HTTP session this server closes (even after a refusal)."""
        http = aiohttp.ClientSession()
        self._sessions.append(http)
        return socketio.AsyncClient(reconnection=False, http_session=http)

    async def sign_in(self, username: str, password: str = DEMO_PASSWORD) -> SignedIn:
        http = self.http()
        async with http.post(
            "/api/v1/auth/login", json={"username": username, "password": password}
        ) as response:
            body = await response.json()
            assert response.status == 200, body
        return SignedIn(username, body["token"], body["csrf_token"], body["user"], http)

    async def sign_in_all(self, names: Sequence[str] = DEMO_ACCOUNTS) -> dict[str, SignedIn]:
        """Each of ``names`` signed in (side by side), by name."""
        signed = await asyncio.gather(*(self.sign_in(name) for name in names))
        return dict(zip(names, signed, strict=True))


@asynccontextmanager
async def running(settings: Settings, clock: Clock) -> AsyncIterator[RunningServer]:
    """A server with settings of the test's own, closed when the block ends."""
    server = RunningServer(settings, clock)
    await server.start()
    try:
        yield server
    finally:
        await server.close()
