"""The wire to one Janus instance: its plain HTTP API (``POST`` a request, ``GET`` a long
poll for events), with the API secret in every request.

The one module of the Janus client that speaks HTTP (an outgoing transport, like the
Socket.IO server is an incoming one: tests/test_layers.py lists it). Every failure of the
network or of the answer's shape becomes ``SfuUnavailable``; what Janus answers, errors
included, is returned as it is, for the client to read.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp

from telemed.shapes import Json
from telemed.signaling.janus.errors import SfuUnavailable

# Janus holds a long poll for up to 30 s before answering a keepalive.
POLL_SECONDS = 30.0


class JanusHttp:
    def __init__(self, url: str, api_secret: str, request_timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self._secret = api_secret
        self._timeout = request_timeout
        self._http: aiohttp.ClientSession | None = None

    def _session(self) -> aiohttp.ClientSession:
        if self._http is None or self._http.closed:
            # Janus is on a private address and never behind a proxy of the environment.
            self._http = aiohttp.ClientSession(trust_env=False)
        return self._http

    async def post(self, path: str, body: Json) -> Json:
        """``body`` (with the secret) to ``<url><path>``; Janus's answer."""
        if self._secret:
            body = {**body, "apisecret": self._secret}
        timeout = aiohttp.ClientTimeout(total=self._timeout)
        return _one(await self._call("POST", path, timeout, json=body))

    async def get(self, path: str) -> Json:
        timeout = aiohttp.ClientTimeout(total=self._timeout)
        return _one(await self._call("GET", path, timeout, params=self._params()))

    async def poll(self, session_id: int, max_events: int = 10) -> list[Json]:
        """The session's next events (a long poll: at most ``POLL_SECONDS``, then a
        keepalive). An error object (a session Janus lost) comes back as a one-item list."""
        timeout = aiohttp.ClientTimeout(total=POLL_SECONDS + self._timeout)
        params = {**self._params(), "maxev": str(max_events)}
        answer = await self._call("GET", f"/{session_id}", timeout, params=params)
        if isinstance(answer, list) and all(isinstance(item, dict) for item in answer):
            return answer
        return [_one(answer)]

    def _params(self) -> dict[str, str]:
        return {"apisecret": self._secret} if self._secret else {}

    async def _call(
        self, method: str, path: str, limit: aiohttp.ClientTimeout, **kwargs: Any
    ) -> object:
        try:
            async with self._session().request(
                method, self.url + path, timeout=limit, **kwargs
            ) as response:
                text = await response.text()
        except (aiohttp.ClientError, TimeoutError) as error:
            raise SfuUnavailable() from error
        try:
            return json.loads(text)
        except ValueError as error:
            raise SfuUnavailable("The video server answered something that is not JSON.") from error

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
            # Let the connector's transports finish closing (aiohttp's own advice).
            await asyncio.sleep(0)


def _one(answer: object) -> Json:
    if not isinstance(answer, dict):
        raise SfuUnavailable("The video server answered an unexpected shape.")
    return answer
