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

from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack
from aiortc.sdp import candidate_from_sdp

from telemed.clock import Clock
from telemed.errors import Conflict, FieldProblem, NotFound, ValidationFailed
from telemed.signaling.media.cpu import CpuGauge
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
class _Active:
    case_id: int
    recorder: SessionRecorder
    peers: dict[str, RecordedPeer]
    started_at: datetime
    finished: FinishedHook
    connections: dict[str, RTCPeerConnection] = field(default_factory=dict)
    limit: asyncio.Task[None] | None = None


class Recordings:
    def __init__(
        self,
        registry: PeerRegistry,
        clock: Clock,
        policy: RecordingPolicy,
        *,
        configuration: Callable[[], RTCConfiguration],
        gauge: CpuGauge,
    ) -> None:
        self._registry = registry
        self._clock = clock
        self._policy = policy
        self._configuration = configuration
        self._gauge = gauge
        self._active: dict[int, _Active] = {}

    def is_recording(self, case_id: int) -> bool:
        return case_id in self._active

    async def start(
        self, case_id: int, peers: Sequence[RecordedPeer], finished: FinishedHook
    ) -> Path:
        """Start recording ``peers`` (every participant present, all having consented).

        However the recording stops (asked, at its maximum length, with the session or the
        server), its result goes to ``finished``.
        """
        if case_id in self._active:
            raise Conflict("This session is already being recorded.")
        if not peers:
            raise ValidationFailed([FieldProblem("peers", "at least one participant")])
        video = [peer.peer_id for peer in peers if peer.video]
        if len(video) > 1:
            raise ValidationFailed([FieldProblem("peers", "video from one participant only")])
        stamp = self._clock.now().strftime("%Y%m%dT%H%M%SZ")
        path = self._policy.directory / f"case-{case_id}-{stamp}-{secrets.token_hex(4)}.mkv"
        recorder = SessionRecorder(
            path,
            video_peer=video[0] if video else None,
            gauge=self._gauge,
            cpu_threshold=self._policy.cpu_threshold,
            check_interval=self._policy.check_interval,
        )
        await recorder.start()
        active = _Active(
            case_id, recorder, {p.peer_id: p for p in peers}, self._clock.now(), finished
        )
        self._active[case_id] = active
        active.limit = asyncio.create_task(self._stop_at_limit(case_id))
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
        active = self._recording(case_id)
        del self._active[case_id]
        current = asyncio.current_task()
        if active.limit is not None and active.limit is not current:
            active.limit.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await active.limit
        try:
            facts = await active.recorder.stop()
        finally:
            for pc in active.connections.values():
                await self._registry.close(pc)
        result = RecordingResult(
            case_id=case_id,
            path=active.recorder.path,
            duration=facts.duration,
            size=facts.size,
            sha256=facts.sha256,
            has_video=facts.video_streams > 0,
            audio_only_reason=active.recorder.video_dropped if not facts.video_streams else None,
            started_at=active.started_at,
            ended_at=self._clock.now(),
            reason=reason,
        )
        log.info(
            "recording of case %s stopped (%s): %.1f s, %d bytes, video %s",
            case_id,
            reason,
            result.duration,
            result.size,
            result.has_video,
        )
        try:
            await active.finished(result)
        except Exception:
            log.exception("handing over the recording of case %s failed", case_id)
        return result

    async def end_session(self, case_id: int) -> RecordingResult | None:
        """The session ended: stop its recording, if any, and close its connections."""
        result = await self.stop(case_id, "session ended") if case_id in self._active else None
        await self._registry.close_session(case_id)
        return result

    async def shutdown(self) -> None:
        for case_id in list(self._active):
            await self.stop(case_id, "server shutdown")
        await self._registry.close_all()

    def _recording(self, case_id: int) -> _Active:
        active = self._active.get(case_id)
        if active is None:
            raise NotFound("This session is not being recorded.")
        return active

    async def _stop_at_limit(self, case_id: int) -> None:
        # Media time, not the injected clock: the limit bounds how long the file plays.
        await asyncio.sleep(self._policy.max_seconds)
        if case_id in self._active:
            await self.stop(case_id, "maximum length reached")


def _offer(offer: dict[str, object]) -> RTCSessionDescription:
    sdp, kind = offer.get("sdp"), offer.get("type")
    if kind != "offer" or not isinstance(sdp, str) or not sdp:
        raise ValidationFailed([FieldProblem("description", "an offer with its SDP")])
    if len(sdp.encode()) > MAX_SDP_BYTES:
        raise ValidationFailed([FieldProblem("description", "SDP too large")])
    return RTCSessionDescription(sdp=sdp, type="offer")
