"""Call participants for the signaling tests: a real Socket.IO client in the case room
and real aiortc peer connections that negotiate only through the server's ``rtc:signal``.

The newcomer offers to everyone already in the call (from its join ack or
``call:admitted``); the others answer the offers they receive. Each remote track is read
with ``recv()``, so every counted frame was really received and decoded.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from functools import partial
from typing import Any

from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack, VideoStreamTrack
from av import VideoFrame

from telemed.shapes import Json
from tests.cases.workflow import create_case, to_session
from tests.realtime.live import Participant, participant
from tests.signaling.media import ToneTrack
from tests.support.server import RunningServer, SignedIn

RECORDER = "recorder"


class Caller:
    def __init__(self, who: Participant, case_id: int, frequency: int) -> None:
        self.who = who
        self.case_id = case_id
        self.frequency = frequency
        self.pcs: dict[str, RTCPeerConnection] = {}
        self.recorder_pc: RTCPeerConnection | None = None
        self.peer_id = ""
        # Decoded frames received, per remote peer id and kind ("audio", "video").
        self.frames: dict[str, Counter[str]] = {}
        self.frame_sizes: dict[str, tuple[int, int]] = {}
        self.events: list[tuple[str, Json]] = []
        self._tasks: set[asyncio.Task[None]] = set()
        for name in (
            "rtc:signal",
            "call:admitted",
            "call:peer_joined",
            "call:peer_left",
            "call:ended",
            "call:lobby",
            "call:stats",
            "call:mode",
        ):
            who.client.on(name, self._listener(name))

    def _listener(self, name: str) -> Any:
        def handler(data: Json) -> None:
            self.events.append((name, data))
            self.who.changed.set()
            # Negotiation awaits; never inside the client's read loop.
            if name == "rtc:signal":
                self._spawn(self._on_signal(data))
            elif name == "call:admitted":
                self._spawn(self._offer_all(data["peers_in_call"]))

        return handler

    def got(self, name: str) -> list[Json]:
        return [data for event, data in self.events if event == name]

    def heard(self, name: str) -> bool:
        return any(event == name for event, _data in self.events)

    async def join_call(self) -> Json:
        ack = await self.who.request("call:join", {"case_id": self.case_id})
        if ack.get("ok"):
            self.peer_id = ack["peer_id"]
        if ack.get("ok") and ack["state"] == "in_call":
            await self._offer_all(ack["peers_in_call"])
        return ack

    async def _offer_all(self, peers: list[Json]) -> None:
        for peer in peers:
            pc = self._pc(peer["peer_id"])
            await pc.setLocalDescription(await pc.createOffer())
            await self._send(peer["peer_id"], pc)

    def _pc(self, peer_id: str) -> RTCPeerConnection:
        pc = self.pcs.get(peer_id)
        if pc is not None:
            return pc
        pc = self.pcs[peer_id] = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        pc.addTrack(ToneTrack(self.frequency))
        pc.addTrack(VideoStreamTrack())
        counts = self.frames.setdefault(peer_id, Counter())

        @pc.on("track")
        def _track(track: MediaStreamTrack) -> None:
            self._spawn(self._read(peer_id, track, counts))

        return pc

    async def _read(self, peer_id: str, track: MediaStreamTrack, counts: Counter[str]) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                counts[track.kind] += 1
                if isinstance(frame, VideoFrame):
                    self.frame_sizes[peer_id] = (frame.width, frame.height)
                self.who.changed.set()

    async def _send(self, to: str, pc: RTCPeerConnection) -> None:
        local = pc.localDescription
        description = {"type": local.type, "sdp": local.sdp}
        ack = await self.who.request(
            "rtc:signal",
            {"case_id": self.case_id, "to": to, "data": {"description": description}},
        )
        assert ack["ok"] is True, ack

    async def _on_signal(self, message: Json) -> None:
        sender, data = message["from"], message["data"]
        if sender == RECORDER:
            await self._from_recorder(data)
            return
        description = data.get("description")
        if description is None:
            return  # aiortc puts its candidates in the description: no trickle here
        remote = RTCSessionDescription(description["sdp"], description["type"])
        if remote.type == "offer":
            pc = self._pc(sender)
            await pc.setRemoteDescription(remote)
            await pc.setLocalDescription(await pc.createAnswer())
            await self._send(sender, pc)
        else:
            await self.pcs[sender].setRemoteDescription(remote)

    async def _from_recorder(self, data: Json) -> None:
        if "record" in data:
            if self.recorder_pc is not None:
                await self.recorder_pc.close()
                self.recorder_pc = None
            if data["record"] is None:
                return
            pc = self.recorder_pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
            pc.addTransceiver(ToneTrack(self.frequency), direction="sendonly")
            if data["record"]["video"]:
                pc.addTransceiver(VideoStreamTrack(), direction="sendonly")
            await pc.setLocalDescription(await pc.createOffer())
            await self._send(RECORDER, pc)
        elif "description" in data and self.recorder_pc is not None:
            answer = data["description"]
            await self.recorder_pc.setRemoteDescription(
                RTCSessionDescription(answer["sdp"], answer["type"])
            )

    def received_from(self, peer_id: str, frames: int) -> bool:
        counts = self.frames.get(peer_id, Counter())
        return counts["audio"] >= frames and counts["video"] >= frames

    def _spawn(self, work: Any) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        for pc in [*self.pcs.values(), *([self.recorder_pc] if self.recorder_pc else [])]:
            await pc.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.who.close()


async def in_session_case(server: RunningServer) -> tuple[int, SignedIn]:
    """A case of bs.namcan's in session with HDCM-MIENNAM: its id and the chair's API."""
    doctor, chair = await server.sign_in("bs.namcan"), await server.sign_in("gs.chutoa")
    case_id = int((await create_case(doctor))["id"])
    await to_session(chair, case_id)
    return case_id, chair


async def caller(
    server: RunningServer, made: list[Caller], username: str, case_id: int, frequency: int
) -> Caller:
    """``username`` in the case's room (not yet in its call), closed by the fixture."""
    who = await participant(server, username)
    assert (await who.join(case_id))["ok"] is True
    made.append(Caller(who, case_id, frequency))
    return made[-1]


async def in_call(
    server: RunningServer, made: list[Caller], case_id: int, *people: tuple[str, int]
) -> list[Caller]:
    """Each (username, tone) joins the room and the call, in order; returns once each
    receives media from the first."""
    joined = [await caller(server, made, name, case_id, tone) for name, tone in people]
    for person in joined:
        assert (await person.join_call())["state"] == "in_call"
    first = joined[0]
    for person in joined[1:]:
        await first.who.until(partial(first.received_from, person.peer_id, 3))
        await person.who.until(partial(person.received_from, first.peer_id, 3))
    return joined
