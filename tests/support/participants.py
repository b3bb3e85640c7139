"""Real Socket.IO participants of case rooms, recording everything in arrival order."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field

import aiohttp
import socketio

from telemed.accounts.demo import DEMO_PASSWORD
from telemed.shapes import Json
from tests.support.server import RunningServer, SignedIn

WAIT = 20.0


@dataclass
class Participant:
    username: str
    token: str
    url: str
    client: socketio.AsyncClient
    # Case events in the order this client received them: a join's replay (from its ack)
    # and live case:event messages alike.
    log: list[Json] = field(default_factory=list)
    presence: list[Json] = field(default_factory=list)
    notices: list[Json] = field(default_factory=list)
    removed: list[Json] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    signed: SignedIn | None = None

    def listen(self) -> None:
        client = self.client

        def record(target: list[Json]) -> Callable[[Json], None]:
            def handler(data: Json) -> None:
                target.append(data)
                self.changed.set()

            return handler

        client.on("case:event", record(self.log))
        client.on("case:presence", record(self.presence))
        client.on("notify", record(self.notices))
        client.on("case:removed", record(self.removed))
        client.on("disconnect", lambda *_: self.changed.set())

    async def connect(self) -> None:
        await self.client.connect(
            self.url, transports=["websocket"], auth={"token": self.token}, wait_timeout=10
        )

    async def request(self, event: str, data: object, within: float = WAIT) -> Json:
        answered: asyncio.Future[Json] = asyncio.get_running_loop().create_future()

        def on_ack(ack: Json) -> None:
            # Recorded when the ack packet is handled: its place among the live events.
            if event == "case:join" and ack.get("ok"):
                self.log.extend(ack["events"])
            if not answered.done():
                answered.set_result(ack)

        await self.client.emit(event, data, callback=on_ack)
        return await asyncio.wait_for(answered, within)

    async def join(self, case_id: int, after_seq: int = 0) -> Json:
        return await self.request("case:join", {"case_id": case_id, "after_seq": after_seq})

    async def note(self, case_id: int, body: str, client_id: str | None = None) -> Json:
        payload: Json = {"case_id": case_id, "body": body}
        if client_id is not None:
            payload["client_id"] = client_id
        return await self.request("case:note", payload)

    def seqs(self, case_id: int) -> list[int]:
        return [e["seq"] for e in self.log if e["case_id"] == case_id]

    async def until(self, condition: Callable[[], bool], within: float = WAIT) -> None:
        """Wait for something this client receives (never a fixed sleep)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while not condition():
            self.changed.clear()
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(f"{self.username}: condition not met in {within}s")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), min(remaining, 0.5))

    async def until_events(self, case_id: int, count: int) -> None:
        await self.until(lambda: len(self.seqs(case_id)) >= count)

    async def close(self) -> None:
        if self.client.connected:
            await self.client.disconnect()


async def sign_in(http: aiohttp.ClientSession, url: str, username: str) -> str:
    async with http.post(
        f"{url}/api/v1/auth/login", json={"username": username, "password": DEMO_PASSWORD}
    ) as response:
        body = await response.json()
        assert response.status == 200, body
        token: str = body["token"]
        return token


async def participant(
    server: RunningServer, username: str, password: str = DEMO_PASSWORD
) -> Participant:
    """A signed-in user connected to ``server`` with a real Socket.IO client."""
    signed = await server.sign_in(username, password)
    who = Participant(username, signed.token, server.url, server.socket(), signed=signed)
    who.listen()
    await who.connect()
    return who


async def reconnect(server: RunningServer, who: Participant) -> None:
    """A new Socket.IO connection for the same session (a dropped client coming back)."""
    who.client = server.socket()
    who.listen()
    await who.connect()
