"""A raw websocket that speaks Engine.IO v4 and Socket.IO v5 by hand, to send what no
Socket.IO client library would: binary attachments, malformed frames, reserved names."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp

WAIT = 10.0


class RawSocket:
    def __init__(self, http: aiohttp.ClientSession, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.http = http
        self.ws = ws
        self._next_id = 0

    @classmethod
    async def connect(cls, url: str, token: str) -> RawSocket:
        """Open the websocket and the default namespace with ``auth.token``."""
        http = aiohttp.ClientSession()
        ws = await http.ws_connect(f"{url}/socket.io/?EIO=4&transport=websocket")
        raw = cls(http, ws)
        opened = await raw.frame()
        assert isinstance(opened, str), opened
        assert opened.startswith("0{"), opened
        await raw.send("40" + json.dumps({"token": token}))
        connected = await raw.frame()
        assert isinstance(connected, str), connected
        assert connected.startswith("40{"), connected
        return raw

    async def send(self, frame: str | bytes) -> None:
        if isinstance(frame, bytes):
            await self.ws.send_bytes(frame)
        else:
            await self.ws.send_str(frame)

    async def frame(self, within: float = WAIT) -> str | bytes | None:
        """The next data frame (answering pings), or None once the websocket is closed."""
        while True:
            message = await self.ws.receive(timeout=within)
            if message.type in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                data: str | bytes = message.data
                if data == "2":
                    await self.send("3")
                    continue
                return data
            return None

    async def request(self, packet: str, within: float = WAIT) -> Any:
        """Send ``42<id><packet>`` and return the ack's payload (None if the socket closed).

        ``packet`` is the text after the id, so it may be any (malformed) JSON at all."""
        self._next_id += 1
        ack_id = self._next_id
        await self.send(f"42{ack_id}{packet}")
        prefix = f"43{ack_id}"
        while (frame := await self.frame(within)) is not None:
            if isinstance(frame, str) and frame.startswith(prefix):
                answer = json.loads(frame[len(prefix) :])
                return answer[0] if answer else None
        return None

    async def emit(self, event: str, *args: object) -> Any:
        return await self.request(json.dumps([event, *args]))

    async def closed(self, within: float = WAIT) -> bool:
        """Whether the server closes this websocket within ``within`` seconds."""
        try:
            async with asyncio.timeout(within):
                while await self.frame(within) is not None:
                    pass
        except TimeoutError:
            return False
        return True

    async def close(self) -> None:
        await self.ws.close()
        await self.http.close()
