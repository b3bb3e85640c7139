"""Calls through the server: how long negotiation takes through ``rtc:signal``, and what
100 calls leave behind in the server's memory.

    .venv/bin/python -m bench.call_bench                 # 20 runs each, 100 calls, SQLite
    .venv/bin/python -m bench.call_bench --runs 10 --calls 50 --no-replay

1. Time from ``createOffer`` to both peers ``connected``: two aiortc peers (a silent audio
   track and a black video track each) negotiating through a real Telemed server, each
   peer's descriptions carried by a real Socket.IO client in the case's call
   (``rtc:signal``), against the same two peers exchanging descriptions directly in this
   process. Runs alternate between the two, so load on the host hits both alike.
2. Server memory: the VmRSS of the server process (``telemed serve`` in a subprocess, so
   the figure is the server's alone) before and after ``--calls`` calls opened and closed
   one after another, each on its own in-session case: two new Socket.IO clients connect,
   join the room and the call, negotiate through the server, reach ``connected``, leave the
   call and the room, and disconnect. Then as many calls again, all on one case, which
   tells state kept per case from anything a call leaves behind. Joins replay the case's
   log from the start (``after_seq`` 0, as a page load does); with ``--no-replay`` the
   one-case phase joins beyond the log, so its growing log is not replayed each time.

Everything runs on loopback, with no STUN or TURN server (host candidates only).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import socketio
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import AudioStreamTrack, VideoStreamTrack

from bench.common import percentile
from bench.rooms_bench import ROOT, free_port, rss_bytes, telemed, wait_ready
from telemed.accounts.demo import DEMO_PASSWORD
from telemed.shapes import Json

DOCTOR, CHAIR = "bs.namcan", "gs.chutoa"
CASE = {
    "council": "HDCM-MIENNAM",
    "patient_code": "BENCH-CALL",
    "patient_sex": "female",
    "patient_birth_year": 1970,
    "title": "Bench call",
    "summary": "Benchmark case.",
    "questions": ["Benchmark?"],
    "specialty": "Tim mạch",
    "urgency": "routine",
}
TIMEOUT = 30.0


@dataclass
class Server:
    url: str
    process: asyncio.subprocess.Process
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def pid(self) -> int:
        return self.process.pid


async def start_server(database_url: str, data_dir: Path) -> Server:
    await telemed("db", "upgrade", "--database-url", database_url)
    await telemed("demo", "--accounts-only", "--database-url", database_url)
    port = free_port()
    env = {**os.environ, "TELEMED_LOG_LEVEL": "WARNING"}
    command = [sys.executable, "-m", "telemed", "serve", "--port", str(port)]
    command += ["--database-url", database_url, "--data-dir", str(data_dir)]
    process = await asyncio.create_subprocess_exec(*command, cwd=ROOT, env=env)
    server = Server(f"http://127.0.0.1:{port}", process)
    await wait_ready(server.url, process)
    async with aiohttp.ClientSession(base_url=server.url) as http:
        for username in (DOCTOR, CHAIR):
            login = {"username": username, "password": DEMO_PASSWORD}
            async with http.post("/api/v1/auth/login", json=login) as response:
                server.tokens[username] = (await response.json())["token"]
    return server


async def stop_server(server: Server) -> None:
    server.process.terminate()
    try:
        await asyncio.wait_for(server.process.wait(), 30)
    except TimeoutError:
        server.process.kill()
        await server.process.wait()


async def in_session_cases(server: Server, count: int) -> list[int]:
    """``count`` cases requested by the doctor and taken into session by the chair."""
    doctor = {"Authorization": f"Bearer {server.tokens[DOCTOR]}"}
    chair = {"Authorization": f"Bearer {server.tokens[CHAIR]}"}
    steps: list[Json] = [
        {"action": "accept"},
        {"action": "schedule", "scheduled_at": "2036-01-02T09:00:00+07:00"},
        {"action": "start_session"},
    ]
    case_ids = []
    async with aiohttp.ClientSession(base_url=server.url) as http:
        for _ in range(count):
            async with http.post("/api/v1/cases", json=CASE, headers=doctor) as response:
                assert response.status == 201, await response.text()
                case_id = int((await response.json())["id"])
            for step in steps:
                path = f"/api/v1/cases/{case_id}/transitions"
                async with http.post(path, json=step, headers=chair) as response:
                    assert response.status == 200, await response.text()
            case_ids.append(case_id)
    return case_ids


def new_peer() -> RTCPeerConnection:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.addTrack(AudioStreamTrack())
    pc.addTrack(VideoStreamTrack())
    return pc


def connected(pc: RTCPeerConnection) -> asyncio.Future[None]:
    """Resolves when ``pc`` reaches ``connected``; fails on ``failed``."""
    reached: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    @pc.on("connectionstatechange")
    def _changed() -> None:
        if reached.done():
            return
        if pc.connectionState == "connected":
            reached.set_result(None)
        elif pc.connectionState == "failed":
            reached.set_exception(RuntimeError("peer connection failed"))

    return reached


def described(pc: RTCPeerConnection) -> Json:
    local = pc.localDescription
    return {"type": local.type, "sdp": local.sdp}


Carry = Callable[[Json], Awaitable[Json]]


async def negotiate(offer_carried: Carry, answer_carried: Carry) -> float:
    """Seconds from the offerer's ``createOffer`` to both peers ``connected``. The offer
    reaches the answerer through ``offer_carried``, the answer comes back through
    ``answer_carried``; each returns the description as the other side receives it."""
    offerer, answerer = new_peer(), new_peer()
    both = asyncio.gather(connected(offerer), connected(answerer))
    try:
        began = time.perf_counter()
        await offerer.setLocalDescription(await offerer.createOffer())
        offer = await offer_carried(described(offerer))
        await answerer.setRemoteDescription(RTCSessionDescription(offer["sdp"], offer["type"]))
        await answerer.setLocalDescription(await answerer.createAnswer())
        answer = await answer_carried(described(answerer))
        await offerer.setRemoteDescription(RTCSessionDescription(answer["sdp"], answer["type"]))
        await asyncio.wait_for(both, TIMEOUT)
        return time.perf_counter() - began
    finally:
        both.cancel()
        await offerer.close()
        await answerer.close()


async def direct(description: Json) -> Json:
    return description


class Participant:
    """A Socket.IO client in one case's room and call; what ``rtc:signal`` brings it is
    queued for the negotiation to take."""

    def __init__(self, server: Server, username: str, case_id: int, after_seq: int = 0) -> None:
        self.token = server.tokens[username]
        self.after_seq = after_seq
        self.url = server.url
        self.case_id = case_id
        self.sio = socketio.AsyncClient(reconnection=False)
        self.inbox: asyncio.Queue[Json] = asyncio.Queue()
        self.peer_id = ""
        self.sio.on("rtc:signal", self._signalled)

    async def _signalled(self, message: Json) -> None:
        await self.inbox.put(message["data"]["description"])

    async def request(self, event: str, data: Json) -> Json:
        ack: Json = await self.sio.call(event, data, timeout=TIMEOUT)
        assert ack.get("ok"), (event, ack)
        return ack

    async def enter(self) -> None:
        await self.sio.connect(
            self.url, transports=["websocket"], auth={"token": self.token}, wait_timeout=10
        )
        await self.request("case:join", {"case_id": self.case_id, "after_seq": self.after_seq})
        joined = await self.request("call:join", {"case_id": self.case_id})
        assert joined["state"] == "in_call", joined
        self.peer_id = joined["peer_id"]

    async def leave(self) -> None:
        if self.sio.connected:
            await self.request("call:leave", {"case_id": self.case_id})
            await self.request("case:leave", {"case_id": self.case_id})
            await self.sio.disconnect()

    def carrier(self, to: Participant) -> Carry:
        """Sends a description to ``to`` through the server; what ``to`` received."""

        async def carry(description: Json) -> Json:
            data = {"description": description}
            await self.request(
                "rtc:signal", {"case_id": self.case_id, "to": to.peer_id, "data": data}
            )
            return await asyncio.wait_for(to.inbox.get(), TIMEOUT)

        return carry


async def pair(server: Server, case_id: int, after_seq: int = 0) -> tuple[Participant, Participant]:
    doctor = Participant(server, DOCTOR, case_id, after_seq)
    chair = Participant(server, CHAIR, case_id, after_seq)
    await doctor.enter()
    await chair.enter()
    return doctor, chair


async def negotiation_times(server: Server, case_id: int, runs: int) -> tuple[list[float], ...]:
    doctor, chair = await pair(server, case_id)
    through, local = [], []
    try:
        # One of each first, not counted: imports, codecs and the server's first call warm.
        await negotiate(doctor.carrier(chair), chair.carrier(doctor))
        await negotiate(direct, direct)
        for _ in range(runs):
            through.append(await negotiate(doctor.carrier(chair), chair.carrier(doctor)))
            local.append(await negotiate(direct, direct))
    finally:
        await doctor.leave()
        await chair.leave()
    return through, local


async def one_call(server: Server, case_id: int, after_seq: int = 0) -> None:
    doctor, chair = await pair(server, case_id, after_seq)
    try:
        await negotiate(doctor.carrier(chair), chair.carrier(doctor))
    finally:
        await doctor.leave()
        await chair.leave()


async def memory(server: Server, case_ids: list[int], after_seq: int = 0) -> list[tuple[int, int]]:
    """(calls so far, server RSS in bytes) before the first call and every 25 calls, one
    call on each of ``case_ids`` in turn; each participant joins the room with
    ``after_seq``."""
    await asyncio.sleep(2.0)
    figures = [(0, rss_bytes(server.pid))]
    for n, case_id in enumerate(case_ids, start=1):
        await one_call(server, case_id, after_seq)
        if n % 25 == 0 or n == len(case_ids):
            await asyncio.sleep(2.0)  # the server's closing work done
            figures.append((n, rss_bytes(server.pid)))
    return figures


def print_memory(title: str, figures: list[tuple[int, int]], seconds: float) -> None:
    print(f"\nserver RSS, {title} ({seconds:.0f} s)")
    for done, rss in figures:
        print(f"  after {done:3d} calls: {rss / 2**20:6.1f} MiB")
    calls = figures[-1][0]
    growth = (figures[-1][1] - figures[0][1]) / 2**20
    print(f"  growth: {growth:+.1f} MiB ({growth * 1024 / calls:+.1f} KiB per call)")


def summary(name: str, values: list[float]) -> str:
    return (
        f"{name:28s} p50 {statistics.median(values) * 1000:7.1f} ms   "
        f"p90 {percentile(values, 0.9) * 1000:7.1f} ms   n={len(values)}"
    )


async def main(runs: int, calls: int, replay: bool, database_url: str | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = database_url or f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        server = await start_server(url, Path(tmp) / "data")
        try:
            case_ids = await in_session_cases(server, calls + 2)
            began = time.monotonic()
            through, local = await negotiation_times(server, case_ids[0], runs)
            print(f"createOffer -> both peers connected ({time.monotonic() - began:.0f} s)")
            print(summary("through the server", through))
            print(summary("direct, in one process", local))
            ratio = statistics.median(through) / statistics.median(local)
            ratio90 = percentile(through, 0.9) / percentile(local, 0.9)
            print(f"ratio through/direct: p50 {ratio:.2f}x, p90 {ratio90:.2f}x")

            await one_call(server, case_ids[1])  # warm-up, not counted
            began = time.monotonic()
            figures = await memory(server, case_ids[2:])
            print_memory(f"{calls} calls, each on its own case", figures, time.monotonic() - began)
            # The same number again on one case: per-call leftovers, without per-case state.
            began = time.monotonic()
            # Joining with after_seq 0 replays the case's whole log, which grows by four
            # events a call; --no-replay joins beyond the log, as a client that has it.
            after_seq = 0 if replay else 2**31 - 1
            figures = await memory(server, [case_ids[1]] * calls, after_seq)
            title = f"{calls} more calls, all on one case" + ("" if replay else ", no replay")
            print_memory(title, figures, time.monotonic() - began)
        finally:
            await stop_server(server)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20, help="negotiations of each kind")
    parser.add_argument("--calls", type=int, default=100, help="calls for the memory figure")
    parser.add_argument(
        "--no-replay",
        action="store_true",
        help="in the one-case phase, join rooms beyond the log (no events replayed)",
    )
    parser.add_argument("--database-url", help="e.g. a PostgreSQL URL (default: SQLite)")
    arguments = parser.parse_args()
    runs = max(1, min(arguments.runs, 200))
    calls = max(1, min(arguments.calls, 1000))
    asyncio.run(main(runs, calls, not arguments.no_replay, arguments.database_url))
