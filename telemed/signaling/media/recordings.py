"""Recordings of case sessions: the server joins the call as a receive-only participant.

Each recorded participant's browser opens one more peer connection, to the recorder;
the recorder answers with receive-only transceivers and writes what arrives into the
session's file. Who may start a recording, and whether everyone present consented, is
the case room's decision: this module is told which peers to record.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Generic, TypeVar

from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack
from aiortc.sdp import candidate_from_sdp

from telemed.clock import Clock
from telemed.errors import Conflict, FieldProblem, NotFound, ValidationFailed
from telemed.signaling.media.cpu import CpuGauge
from telemed.signaling.media.mediafile import FileFacts
from telemed.signaling.media.peers import PeerRegistry
from telemed.signaling.media.recorder import RecordedPeer, RecordingResult, SessionRecorder

log = logging.getLogger(__name__)

MAX_SDP_BYTES = 64 * 1024
FinishedHook = Callable[[RecordingResult], Awaitable[None]]


@dataclass(frozen=True)
class RecordingPolicy:
    directory: Path
    max_seconds: float
    cpu_threshold: float
    check_interval: float = 2.0


@dataclass
class ActiveRecording:
    case_id: int
    started_at: datetime
    finished: FinishedHook


Active = TypeVar("Active", bound=ActiveRecording)


class RecordingSet(Generic[Active]):
    """What every recorder of calls keeps alike (this module's and the SFU's): one recording
    per case, stopped at its maximum length, and however it stops (asked, at that length, with
    the session or the server) its result goes to the ``finished`` it was started with."""

    def __init__(self, clock: Clock, max_seconds: float) -> None:
        self._clock = clock
        self._max_seconds = max_seconds
        self._active: dict[int, Active] = {}
        self._limits: dict[int, asyncio.Task[None]] = {}

    def is_recording(self, case_id: int) -> bool:
        return case_id in self._active

    async def stop(self, case_id: int, reason: str = "stopped") -> RecordingResult:
        raise NotImplementedError

    def _file_name(self, case_id: int) -> str:
        if case_id in self._active:
            raise Conflict("This session is already being recorded.")
        stamp = self._clock.now().strftime("%Y%m%dT%H%M%SZ")
        return f"case-{case_id}-{stamp}-{secrets.token_hex(4)}"

    def _begin(self, active: Active) -> None:
        self._active[active.case_id] = active
        self._limits[active.case_id] = asyncio.create_task(self._stop_at_limit(active.case_id))

    def _recording(self, case_id: int) -> Active:
        active = self._active.get(case_id)
        if active is None:
            raise NotFound("This session is not being recorded.")
        return active

    async def _end(self, case_id: int) -> Active:
        """Take the recording out of the set; its limit is cancelled unless it is the caller."""
        active = self._recording(case_id)
        del self._active[case_id]
        limit = self._limits.pop(case_id)
        if limit is not asyncio.current_task():
            limit.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await limit
        return active

    async def _hand_over(
        self, active: Active, path: Path, facts: FileFacts, reason: str, audio_only: str | None
    ) -> RecordingResult:
        result = RecordingResult(
            case_id=active.case_id,
            path=path,
            duration=facts.duration,
            size=facts.size,
            sha256=facts.sha256,
            has_video=facts.video_streams > 0,
            audio_only_reason=audio_only if not facts.video_streams else None,
            started_at=active.started_at,
            ended_at=self._clock.now(),
            reason=reason,
        )
        try:
            await active.finished(result)
        except Exception:
            log.exception("handing over the recording of case %s failed", active.case_id)
        return result

    async def _stop_at_limit(self, case_id: int) -> None:
        # Media time, not the injected clock: the limit bounds how long the file plays.
        await asyncio.sleep(self._max_seconds)
        if case_id in self._active:
            await self.stop(case_id, "maximum length reached")


@dataclass
class _Active(ActiveRecording):
    recorder: SessionRecorder
    peers: dict[str, RecordedPeer]
    connections: dict[str, RTCPeerConnection] = field(default_factory=dict)


class Recordings(RecordingSet[_Active]):
    def __init__(
        self,
        registry: PeerRegistry,
        clock: Clock,
        policy: RecordingPolicy,
        *,
        configuration: Callable[[], RTCConfiguration],
        gauge: CpuGauge,
    ) -> None:
        super().__init__(clock, policy.max_seconds)
        self._registry = registry
        self._policy = policy
        self._configuration = configuration
        self._gauge = gauge

    async def start(
        self, case_id: int, peers: Sequence[RecordedPeer], finished: FinishedHook
    ) -> Path:
        """Start recording ``peers`` (every participant present, all having consented)."""
        name = self._file_name(case_id)
        if not peers:
            raise ValidationFailed([FieldProblem("peers", "at least one participant")])
        video = [peer.peer_id for peer in peers if peer.video]
        if len(video) > 1:
            raise ValidationFailed([FieldProblem("peers", "video from one participant only")])
        path = self._policy.directory / f"{name}.mkv"
        recorder = SessionRecorder(
            path,
            video_peer=video[0] if video else None,
            gauge=self._gauge,
            cpu_threshold=self._policy.cpu_threshold,
            check_interval=self._policy.check_interval,
        )
        await recorder.start()
        peers_by_id = {p.peer_id: p for p in peers}
        self._begin(_Active(case_id, self._clock.now(), finished, recorder, peers_by_id))
        return path

    async def answer(self, case_id: int, peer_id: str, offer: dict[str, object]) -> dict[str, str]:
        """The recorder's answer to a recorded participant's offer."""
        active = self._recording(case_id)
        if peer_id not in active.peers:
            raise NotFound("This participant is not being recorded.")
        description = _offer(offer)
        previous = active.connections.pop(peer_id, None)
        if previous is not None:
            await self._registry.close(previous)
        pc = self._registry.open(case_id, f"recorder:{peer_id}", self._configuration())
        active.connections[peer_id] = pc
        recorder = active.recorder

        @pc.on("track")
        def _track(track: MediaStreamTrack) -> None:
            recorder.add_track(peer_id, track)

        try:
            await pc.setRemoteDescription(description)
            for transceiver in pc.getTransceivers():
                transceiver.direction = "recvonly"
            await pc.setLocalDescription(await pc.createAnswer())
        except (ValueError, AttributeError) as error:
            await self._registry.close(pc)
            raise ValidationFailed([FieldProblem("description", "not a usable offer")]) from error
        local = pc.localDescription
        return {"type": local.type, "sdp": local.sdp}

    async def add_candidate(self, case_id: int, peer_id: str, candidate: dict[str, object]) -> None:
        """A trickled ICE candidate from a recorded participant's browser."""
        pc = self._recording(case_id).connections.get(peer_id)
        if pc is None:
            raise NotFound("This participant has no connection to the recorder.")
        text = candidate.get("candidate")
        if not isinstance(text, str) or len(text) > 1024:
            raise ValidationFailed([FieldProblem("candidate", "not a candidate line")])
        if not text:
            return  # end of candidates: aiortc needs no notice
        try:
            parsed = candidate_from_sdp(text.removeprefix("candidate:"))
        except (ValueError, IndexError) as error:
            raise ValidationFailed([FieldProblem("candidate", "not a candidate line")]) from error
        mid, index = candidate.get("sdpMid"), candidate.get("sdpMLineIndex")
        parsed.sdpMid = mid if isinstance(mid, str) else None
        parsed.sdpMLineIndex = index if isinstance(index, int) else None
        await pc.addIceCandidate(parsed)

    async def stop(self, case_id: int, reason: str = "stopped") -> RecordingResult:
        """Stop and close the file; the result also goes to the recording's ``finished``."""
        active = await self._end(case_id)
        try:
            facts = await active.recorder.stop()
        finally:
            for pc in active.connections.values():
                await self._registry.close(pc)
        log.info(
            "recording of case %s stopped (%s): %.1f s, %d bytes, video %s",
            case_id,
            reason,
            facts.duration,
            facts.size,
            facts.video_streams > 0,
        )
        path, dropped = active.recorder.path, active.recorder.video_dropped
        return await self._hand_over(active, path, facts, reason, dropped)

    async def end_session(self, case_id: int) -> RecordingResult | None:
        """The session ended: stop its recording, if any, and close its connections."""
        result = await self.stop(case_id, "session ended") if case_id in self._active else None
        await self._registry.close_session(case_id)
        return result

    async def shutdown(self) -> None:
        for case_id in list(self._active):
            await self.stop(case_id, "server shutdown")
        await self._registry.close_all()


def _offer(offer: dict[str, object]) -> RTCSessionDescription:
    sdp, kind = offer.get("sdp"), offer.get("type")
    if kind != "offer" or not isinstance(sdp, str) or not sdp:
        raise ValidationFailed([FieldProblem("description", "an offer with its SDP")])
    if len(sdp.encode()) > MAX_SDP_BYTES:
        raise ValidationFailed([FieldProblem("description", "SDP too large")])
    return RTCSessionDescription(sdp=sdp, type="offer")
