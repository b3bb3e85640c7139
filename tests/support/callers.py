"""Call participants for the call tests (signaling, guests): a real Socket.IO client in the
case room and real aiortc peer connections that negotiate only through the server's
``rtc:signal``.

In a mesh, the newcomer offers to everyone already in the call (from its join ack or
``call:admitted``); the others answer the offers they receive. When the server says the
call goes through the SFU (the ack's or ``call:admitted``'s ``topology``, or
``call:topology``), a caller does what a browser does: closes its mesh connections,
offers its microphone and camera to ``sfu:publish``, and answers every offer from
``sfu:subscribe``, telling the remote tracks apart by the m-line ids the offer names.
Each remote track is read with ``recv()``, so every counted frame was really received and
decoded.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from functools import partial
from typing import Any

from aiortc import (
    RTCBundlePolicy,
    RTCConfiguration,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack, VideoStreamTrack
from av import VideoFrame

from telemed.shapes import Json
from tests.support.media import SmallVideoTrack, ToneTrack
from tests.support.participants import Participant, participant
from tests.support.server import RunningServer

RECORDER = "recorder"
SFU_PUBLISH, SFU_SUBSCRIBE = "sfu:publish", "sfu:subscribe"


class Caller:
    def __init__(
        self,
        who: Participant,
        case_id: int,
        frequency: int,
        configuration: RTCConfiguration | None = None,
    ) -> None:
        self.who = who
        self.case_id = case_id
        self.frequency = frequency
        # ICE servers and policy of every connection this caller opens (none by default).
        self.configuration = configuration or RTCConfiguration(iceServers=[])
        self.pcs: dict[str, RTCPeerConnection] = {}
        self.recorder_pc: RTCPeerConnection | None = None
        self.peer_id = ""
        # Decoded frames received, per remote peer id and kind ("audio", "video").
        self.frames: dict[str, Counter[str]] = {}
        self.frame_sizes: dict[str, tuple[int, int]] = {}
        self.events: list[tuple[str, Json]] = []
        self._tasks: set[asyncio.Task[None]] = set()
        # Through the SFU: the two connections, and which peer each subscribed m-line is.
        self.topology, self.epoch = "mesh", 0
        self.publisher: RTCPeerConnection | None = None
        self.subscriber: RTCPeerConnection | None = None
        self.sfu_mids: dict[str, str] = {}
        self.sfu_frames: dict[str, Counter[str]] = {}
        self.closed_mesh: list[RTCPeerConnection] = []
        self._signals = asyncio.Lock()
        for name in (
            "rtc:signal",
            "call:topology",
            "call:notice",
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
                self._spawn(self._entered(data))
            elif name == "call:topology" and data["topology"] == "sfu":
                self._spawn(self._to_sfu(data["epoch"]))

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
            await self._entered(ack)
        return ack

    async def _entered(self, place: Json) -> None:
        """In the call (the join ack or ``call:admitted``): as the server says."""
        if place.get("topology") == "sfu":
            await self._to_sfu(place["epoch"])
        else:
            await self._offer_all(place["peers_in_call"])

    async def _to_sfu(self, epoch: int) -> None:
        """The call goes through the SFU (again, in a new room when ``epoch`` changed):
        the mesh connections close, the microphone and camera are offered to the SFU.
        The receiving connection stays: the server's offer for it may have come before the
        join's answer, and a new room's offer says ``new_connection`` itself."""
        async with self._signals:
            if self.topology == "sfu" and self.epoch == epoch:
                return
            self.topology, self.epoch = "sfu", epoch
            for pc in [*self.pcs.values(), *filter(None, [self.publisher])]:
                self.closed_mesh.append(pc)
                await pc.close()
            self.pcs.clear()
            pc = self.publisher = RTCPeerConnection(self.configuration)
            pc.addTransceiver(ToneTrack(self.frequency), direction="sendonly")
            pc.addTransceiver(SmallVideoTrack(), direction="sendonly")
            await pc.setLocalDescription(await pc.createOffer())
            await self._send(SFU_PUBLISH, pc)

    def _subscriber(self) -> RTCPeerConnection:
        if self.subscriber is not None:
            return self.subscriber
        # max-bundle: with aiortc's default ("balanced"), a second video m-line in one
        # offer is put on a transport that bundling then discards, and never receives.
        configuration = RTCConfiguration(
            iceServers=self.configuration.iceServers,
            iceTransportPolicy=self.configuration.iceTransportPolicy,
            bundlePolicy=RTCBundlePolicy.MAX_BUNDLE,
        )
        pc = self.subscriber = RTCPeerConnection(configuration)

        @pc.on("track")
        def _track(track: MediaStreamTrack) -> None:
            mid = next(t.mid for t in pc.getTransceivers() if t.receiver.track is track)
            peer_id = self.sfu_mids.get(mid or "", f"unknown-{mid}")
            counts = self.sfu_frames.setdefault(peer_id, Counter())
            self._spawn(self._read(peer_id, track, counts))

        return pc

    def received_through_sfu(self, peer_id: str, frames: int) -> bool:
        counts = self.sfu_frames.get(peer_id, Counter())
        return counts["audio"] >= frames and counts["video"] >= frames

    async def _from_sfu(self, sender: str, data: Json) -> None:
        description = data.get("description")
        if description is None:
            return  # Janus puts its candidates in its descriptions
        remote = RTCSessionDescription(description["sdp"], description["type"])
        if sender == SFU_PUBLISH and self.publisher is not None:
            await self.publisher.setRemoteDescription(remote)
        elif sender == SFU_SUBSCRIBE:
            for stream in data["streams"]:
                self.sfu_mids[stream["mid"]] = stream["peer_id"]
            if data["new_connection"] and self.subscriber is not None:
                await self.subscriber.close()
                self.subscriber = None
            pc = self._subscriber()
            await pc.setRemoteDescription(remote)
            await pc.setLocalDescription(await pc.createAnswer())
            await self._send(SFU_SUBSCRIBE, pc)

    async def _offer_all(self, peers: list[Json]) -> None:
        for peer in peers:
            pc = self._pc(peer["peer_id"])
            await pc.setLocalDescription(await pc.createOffer())
            await self._send(peer["peer_id"], pc)

    def _pc(self, peer_id: str) -> RTCPeerConnection:
        pc = self.pcs.get(peer_id)
        if pc is not None:
            return pc
        pc = self.pcs[peer_id] = RTCPeerConnection(self.configuration)
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
        # Applied one at a time, in order, as a browser does.
        async with self._signals:
            await self._apply(message)

    async def _apply(self, message: Json) -> None:
        sender, data = message["from"], message["data"]
        if sender in (SFU_PUBLISH, SFU_SUBSCRIBE):
            await self._from_sfu(sender, data)
            return
        if sender == RECORDER:
            await self._from_recorder(data)
            return
        if self.topology == "sfu":
            return  # a mesh signal sent before the move: the mesh is gone
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
        sfu = [self.publisher, self.subscriber, self.recorder_pc]
        for pc in [*self.pcs.values(), *filter(None, sfu)]:
            await pc.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.who.close()


async def caller(
    server: RunningServer,
    made: list[Caller],
    username: str,
    case_id: int,
    frequency: int,
    configuration: RTCConfiguration | None = None,
) -> Caller:
    """``username`` in the case's room (not yet in its call), closed by the fixture."""
    who = await participant(server, username)
    assert (await who.join(case_id))["ok"] is True
    made.append(Caller(who, case_id, frequency, configuration))
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
