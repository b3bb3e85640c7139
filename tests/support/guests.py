"""Guest specialists in tests: an invitation to one case's room, redeemed through the
real HTTP API, and the guest's own HTTP and Socket.IO clients."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from telemed.shapes import Json
from tests.support.api import call
from tests.support.participants import Participant
from tests.support.server import RunningServer, SignedIn

INVITE = {"name": "PGS. Lê Văn Khách", "specialty": "Tim mạch can thiệp"}


@dataclass
class Guest:
    token: str
    csrf_token: str
    user: Json
    case_id: int
    http: aiohttp.ClientSession

    @property
    def bearer(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def json(self, method: str, path: str) -> Json:
        async with self.http.request(method, path, headers=self.bearer) as response:
            assert response.status == 200, await response.text()
            answer: Json = await response.json()
            return answer

    async def status(self, method: str, path: str, body: object = None) -> int:
        async with self.http.request(method, path, json=body, headers=self.bearer) as response:
            await response.read()
            return response.status


async def invite(chair: SignedIn, case_id: int, expect: int = 201, **changes: Any) -> Json:
    body = {**INVITE, **changes}
    made: Json = await call(chair, "POST", f"/api/v1/cases/{case_id}/invites", body, expect)
    return made


def token_of(invitation: Json) -> str:
    path = urlsplit(invitation["url"]).path
    assert path.startswith("/join/")
    return path.removeprefix("/join/")


async def redeem(server: RunningServer, token: str) -> tuple[int, Json]:
    http = server.http()
    async with http.post("/api/v1/guests/redeem", json={"token": token}) as response:
        body: Json = await response.json()
        return response.status, body


async def guest_from(server: RunningServer, invitation: Json) -> Guest:
    status, body = await redeem(server, token_of(invitation))
    assert status == 200, body
    return Guest(body["token"], body["csrf_token"], body["user"], body["case_id"], server.http())


async def guest_socket(server: RunningServer, guest: Guest) -> Participant:
    who = Participant(guest.user["username"], guest.token, server.url, server.socket())
    who.listen()
    await who.connect()
    return who
