"""The production topology of docs/deployment.md, run whole from the files in ``deploy/``:
a consultation from request to minutes through nginx with TLS, on two processes sharing
PostgreSQL and Redis, a call relayed by coturn, and an audit trail that names every
client by its own address."""

from __future__ import annotations

import asyncio
import hashlib
import io
import re
from collections import Counter
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import aiohttp
import pytest
from aiortc import (
    RTCConfiguration,
    RTCDataChannel,
    RTCIceServer,
    RTCIceTransportPolicy,
    RTCPeerConnection,
    RTCSessionDescription,
)
from PIL import Image

from tests.support.api import call, step_up
from tests.support.cases import DRAFT, NEW_CASE
from tests.support.participants import Participant
from tests.support.server import SignedIn
from tests.support.topology import Topology

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]

Json = dict[str, Any]

# Each person's own network. nginx's ip_hash keeps a /24 on one process: the chair and
# the secretary sit in the same hospital, so they share a process (and so a call: see
# docs/realtime.md, calls and several processes); the others are elsewhere.
ADDRESSES = {
    "bs.namcan": "127.0.11.2",
    "gs.chutoa": "127.0.12.2",
    "ts.thuky": "127.0.12.3",
    "gs.timmach": "127.0.13.2",
    "kiemtra": "127.0.15.2",
}
# Someone who reaches a Telemed process directly, not through nginx.
BYPASS = "127.0.16.2"
FORGED = "198.51.100.7"
CANDIDATE = re.compile(r"^a=candidate:\S+ \d+ udp \d+ (\S+) (\d+) typ (\w+)", re.MULTILINE)


def png_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (16, 8), (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


@dataclass
class Page(Participant):
    """A case page: the board's events, and the end of the call."""

    ended: list[Json] = field(default_factory=list)

    def listen(self) -> None:
        super().listen()

        def on_ended(data: Json) -> None:
            self.ended.append(data)
            self.changed.set()

        self.client.on("call:ended", on_ended)


def notified(page: Page, kind: str) -> bool:
    return any(notice["kind"] == kind for notice in page.notices)


def heard_end(page: Page, ended: list[Json]) -> bool:
    return page.ended == ended


async def live(topology: Topology, who: SignedIn, *, polling: bool = False) -> Page:
    """``who``'s page connecting its Socket.IO client with the session cookie."""
    person = Page(who.username, who.token, topology.url, topology.socket(who.http))
    person.listen()
    await topology.connect(person.client, polling=polling)
    return person


async def upload(who: SignedIn, case_id: int, content: bytes) -> Json:
    form = aiohttp.FormData()
    form.add_field("file", content, filename="ecg.png", content_type="image/png")
    async with who.http.post(
        f"/api/v1/cases/{case_id}/attachments",
        data=form,
        headers={"X-CSRF-Token": who.csrf_token},
    ) as response:
        body: Json = await response.json()
        assert response.status == 201, body
        return body


def relay_only(ice: Json) -> RTCConfiguration:
    servers = [
        RTCIceServer(
            urls=entry["urls"], username=entry.get("username"), credential=entry.get("credential")
        )
        for entry in ice["iceServers"]
    ]
    return RTCConfiguration(iceServers=servers, iceTransportPolicy=RTCIceTransportPolicy.RELAY)


async def relayed_call(
    topology: Topology, caller: Participant, callee: Participant, case_id: int, to: str
) -> None:
    """``caller`` offers to ``callee`` through ``rtc:signal``, both with the TURN
    credentials of ``rtc:config`` and relayed candidates only; a message then crosses
    coturn on a data channel."""
    pcs = [
        RTCPeerConnection(relay_only(await who.request("rtc:config", {})))
        for who in (caller, callee)
    ]
    offerer, answerer = pcs
    received: asyncio.Queue[str] = asyncio.Queue()
    tasks: set[asyncio.Task[None]] = set()

    @answerer.on("datachannel")
    def _channel(channel: RTCDataChannel) -> None:
        channel.on("message", received.put_nowait)

    async def answer(message: Json) -> None:
        offer = message["data"]["description"]
        await answerer.setRemoteDescription(RTCSessionDescription(offer["sdp"], offer["type"]))
        await answerer.setLocalDescription(await answerer.createAnswer())
        local = answerer.localDescription
        data = {"description": {"type": local.type, "sdp": local.sdp}}
        payload = {"case_id": case_id, "to": message["from"], "data": data}
        assert (await callee.request("rtc:signal", payload))["ok"] is True

    async def accept(message: Json) -> None:
        remote = message["data"]["description"]
        await offerer.setRemoteDescription(RTCSessionDescription(remote["sdp"], remote["type"]))

    def spawn(work: Any) -> None:
        task = asyncio.ensure_future(work)
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    callee.client.on("rtc:signal", lambda message: spawn(answer(message)))
    caller.client.on("rtc:signal", lambda message: spawn(accept(message)))
    try:
        channel = offerer.createDataChannel("board")
        opened = asyncio.Event()
        channel.on("open", opened.set)
        await offerer.setLocalDescription(await offerer.createOffer())
        found = [
            (host, int(port), kind)
            for host, port, kind in CANDIDATE.findall(offerer.localDescription.sdp)
        ]
        assert found, topology.turn.log_text()
        for host, port, kind in found:
            assert (host, kind) == ("127.0.0.1", "relay")
            assert topology.turn.min_port <= port <= topology.turn.max_port
        local = offerer.localDescription
        data = {"description": {"type": local.type, "sdp": local.sdp}}
        assert (await caller.request("rtc:signal", {"case_id": case_id, "to": to, "data": data}))[
            "ok"
        ]
        await asyncio.wait_for(opened.wait(), 20)
        channel.send("through coturn")
        assert await asyncio.wait_for(received.get(), 10) == "through coturn"
    finally:
        for pc in pcs:
            await pc.close()
        for task in list(tasks):
            task.cancel()


async def audit_rows(admin: SignedIn, **filters: object) -> list[Json]:
    rows: list[Json] = []
    cursor = ""
    while True:
        query = {**{k: str(v) for k, v in filters.items()}, "limit": "500", "cursor": cursor}
        page = await call(
            admin,
            "GET",
            "/api/v1/audit?" + "&".join(f"{k}={v}" for k, v in query.items()),
            cookie=True,
        )
        rows.extend(page["items"])
        if page["next_cursor"] is None:
            return rows
        cursor = page["next_cursor"]


async def test_a_consultation_runs_through_nginx_tls_two_processes_redis_and_coturn(
    topology: Topology,
) -> None:
    people = {name: await topology.sign_in(name, address) for name, address in ADDRESSES.items()}
    doctor, chair, secretary = people["bs.namcan"], people["gs.chutoa"], people["ts.thuky"]
    member, admin = people["gs.timmach"], people["kiemtra"]

    # The session cookie is Secure and HttpOnly: the shipped environment file says so. The
    # sign-in sent the page's https Origin, the server's own through nginx.
    cookies = {cookie.key: cookie for cookie in doctor.http.cookie_jar}
    assert cookies["telemed_session"]["secure"] is True
    assert cookies["telemed_session"]["httponly"] is True

    # Everyone's page is live: the doctor's as a browser's (long-polling, then upgrade,
    # every request of the session on one process), the others on websockets.
    board = {
        "bs.namcan": await live(topology, doctor, polling=True),
        "gs.chutoa": await live(topology, chair),
        "ts.thuky": await live(topology, secretary),
        "gs.timmach": await live(topology, member),
    }
    try:
        assert board["bs.namcan"].client.transport() == "websocket"
        counts = [await process.connections() for process in topology.processes]
        assert sum(counts) == 4
        assert min(counts) >= 1, counts

        # 1. Request: the council hears of it on whichever process each member is.
        created = await call(doctor, "POST", "/api/v1/cases", NEW_CASE, expect=201, cookie=True)
        case_id = created["id"]
        for name in ("gs.chutoa", "ts.thuky", "gs.timmach"):
            await board[name].until(partial(notified, board[name], "case.requested"))
        for who in board.values():
            assert (await who.join(case_id))["ok"] is True

        # 2. Triage and the session.
        base = f"/api/v1/cases/{case_id}"
        transitions = [
            {"action": "accept"},
            {"action": "schedule", "scheduled_at": "2036-01-02T09:00:00+07:00"},
            {"action": "start_session"},
        ]
        for body in transitions:
            await call(chair, "POST", base + "/transitions", body, cookie=True)
        await board["bs.namcan"].until(partial(notified, board["bs.namcan"], "case.accepted"))
        # The guest's one-time link is https on the public host: the scheme the browser used,
        # believed from nginx (X-Forwarded-Proto), never plain http.
        guest = {"name": "PGS. Lê Văn Khách", "specialty": "Tim mạch can thiệp"}
        invite = await call(chair, "POST", base + "/invites", guest, expect=201, cookie=True)
        assert invite["url"].startswith(f"{topology.url}/join/")

        # 3. The live board: notes from both processes reach everyone.
        assert (await board["bs.namcan"].note(case_id, "Huyết áp 100/60.", "d-1"))["ok"]
        assert (await board["gs.timmach"].note(case_id, "ECG phù hợp NMCT.", "m-1"))["ok"]
        # Through nginx with a forged X-Forwarded-For: the audit keeps the real address.
        async with member.http.post(
            base + "/notes",
            json={"body": "Men tim tăng.", "client_id": "m-2"},
            headers={"X-CSRF-Token": member.csrf_token, "X-Forwarded-For": FORGED},
        ) as response:
            assert response.status == 201
            forged_note = (await response.json())["id"]

        # 4. Upload, read back through the other process's share of the data directory.
        image = png_bytes()
        attachment = await upload(doctor, case_id, image)
        async with member.http.get(attachment["url"]) as response:
            assert response.status == 200
            assert hashlib.sha256(await response.read()).hexdigest() == attachment["sha256"]

        # 5. The call: chair and secretary (one process), media relayed by coturn.
        joined = [
            await board[n].request("call:join", {"case_id": case_id})
            for n in ("gs.chutoa", "ts.thuky")
        ]
        assert [ack["state"] for ack in joined] == ["in_call", "in_call"]
        assert [p["peer_id"] for p in joined[1]["peers_in_call"]] == [joined[0]["peer_id"]]
        await relayed_call(
            topology, board["ts.thuky"], board["gs.chutoa"], case_id, joined[0]["peer_id"]
        )

        # 6. The decision ends the session and the call.
        await call(chair, "PUT", base + "/decision/draft", DRAFT, cookie=True)
        opinion = {"version": 1, "stance": "concur"}
        await call(member, "POST", base + "/decision/opinions", opinion, cookie=True)
        await step_up(chair)
        await call(chair, "POST", base + "/decision/sign", {"version": 1}, cookie=True)

        # Every page hears that the call ended, after its last leave was written...
        ended = [{"case_id": case_id, "reason": "case decided"}]
        for who in board.values():
            await who.until(partial(heard_end, who, ended))
        # ...and holds exactly the case's log, in order, whichever process it is on.
        log = await call(doctor, "GET", base + "/events?limit=1000", cookie=True)
        types = [event["type"] for event in log["events"]]
        assert types[-4:] == ["decision.signed", "case.decided", "call.leave", "call.leave"]
        expected = [event["seq"] for event in log["events"]]
        assert expected == list(range(1, log["last_seq"] + 1))
        for who in board.values():
            await who.until_events(case_id, len(expected))
            assert who.seqs(case_id) == expected
            assert [e["type"] for e in who.log] == types

        # 7. The minutes.
        async with doctor.http.get(base + "/minutes") as response:
            assert response.status == 200
            minutes = await response.text()
        assert DRAFT["answers"][0]["answer"] in minutes
    finally:
        for who in board.values():
            await who.close()

    # Someone who bypasses nginx and writes their own X-Forwarded-For is not believed.
    connector = aiohttp.TCPConnector(local_addr=(BYPASS, 0))
    async with aiohttp.ClientSession(connector=connector) as bypass:
        direct = f"{topology.processes[1].url}/api/v1/cases/{case_id}"
        headers = {**doctor.bearer, "X-Forwarded-For": FORGED}
        async with bypass.get(direct, headers=headers) as response:
            assert response.status == 200

    # The audit trail: every row carries the real address of whoever acted.
    rows = await audit_rows(admin, case_id=case_id)
    seen = Counter((row["actor"]["username"], row["address"]) for row in rows)
    assert {address for _, address in seen} <= {*ADDRESSES.values(), BYPASS}, seen
    for (username, address), _count in seen.items():
        assert address == ADDRESSES[username] or (username, address) == ("bs.namcan", BYPASS)
    assert seen[("bs.namcan", BYPASS)] == 1
    assert [
        row["address"]
        for row in rows
        if row["action"] == "note.create" and row["object_id"] == str(forged_note)
    ] == [ADDRESSES["gs.timmach"]]
    actions = {row["action"] for row in rows}
    assert {"case.create", "room.join", "note.create", "attachment.upload", "call.join"} <= actions
    for name, address in ADDRESSES.items():
        signed_in = await audit_rows(admin, actor=name, action="auth.login")
        assert [row["address"] for row in signed_in] == [address]

    # The chain written by two processes at once verifies.
    verified = await call(admin, "GET", "/api/v1/audit/verify", cookie=True)
    assert verified["ok"] is True, verified

    # What the proxy keeps from the world: plain HTTP and the metrics.
    async with admin.http.get("/metrics") as response:
        assert response.status == 404
    async with admin.http.get("/healthz") as response:
        assert response.headers["Strict-Transport-Security"] == "max-age=31536000"
    async with admin.http.get(f"{topology.plain_url}/login", allow_redirects=False) as response:
        assert response.status == 301
        assert response.headers["Location"] == "https://localhost/login"
