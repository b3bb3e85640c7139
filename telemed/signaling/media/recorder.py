"""One session's recording: the tracks of the recorded participants, mixed into one file.

The event loop only receives frames and sums audio; encoding and writing happen on one
writer thread per recording (see ``mediafile``). Video comes from one participant, the
requesting site; under CPU pressure it is dropped for the rest of the recording and the
audio goes on, because a recording must never cost the call itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from telemed.signaling.media.cpu import CpuGauge
from telemed.signaling.media.mediafile import VIDEO_CLOCK, FileFacts, RecordingFile, inspect
from telemed.signaling.media.mixer import RATE, AudioMixer, TrackTimeline

log = logging.getLogger(__name__)

# Audio waits this long on the timeline before it is mixed, so that a participant's
# frames that arrive a little late still land in the mix.
MIX_LATENCY = 0.4
FLUSH_INTERVAL = 0.2
# How long the file waits for the requesting site's first video frame before it is
# written without video (its streams are fixed once the first audio is written).
VIDEO_WAIT = 10.0
MAX_DRIFT = 1.0


@dataclass(frozen=True)
class RecordedPeer:
    """A participant to record: ``peer_id`` as the case room knows it; ``video`` for the
    requesting site, whose camera (or shared screen) the file shows."""

    peer_id: str
    user_id: int
    video: bool = False


@dataclass(frozen=True)
class RecordingResult:
    case_id: int
    path: Path
    duration: float
    size: int
    sha256: str
    has_video: bool
    audio_only_reason: str | None
    started_at: datetime
    ended_at: datetime
    reason: str


@dataclass
class _Pressure:
    gauge: CpuGauge
    threshold: float
    interval: float


@dataclass
class _State:
    video_dropped: str | None = None
    tasks: set[asyncio.Task[None]] = field(default_factory=set)


class SessionRecorder:
    def __init__(
        self,
        path: Path,
        *,
        video_peer: str | None,
        gauge: CpuGauge,
        cpu_threshold: float,
        check_interval: float = 2.0,
    ) -> None:
        self.path = path
        self._video_peer = video_peer
        self._pressure = _Pressure(gauge, cpu_threshold, check_interval)
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="recording")
        self._file: RecordingFile | None = None
        self._mixer = AudioMixer()
        self._state = _State()
        self._started = time.monotonic()
        self._header_decided = False
        self._video_busy = False
        self._stopped = False

    @property
    def video_dropped(self) -> str | None:
        return self._state.video_dropped

    async def start(self) -> None:
        try:
            await asyncio.to_thread(self.path.parent.mkdir, 0o700, parents=True, exist_ok=True)
            self._file = await self._run(RecordingFile, self.path)
        except BaseException:
            self._writer.shutdown(wait=False)
            raise
        if self._video_peer is None:
            self._state.video_dropped = "no video source"
        self._check_pressure()
        self._spawn(self._flush_loop())
        self._spawn(self._pressure_loop())

    def add_track(self, peer_id: str, track: MediaStreamTrack) -> None:
        if self._stopped:
            return
        if track.kind == "audio":
            self._spawn(self._receive_audio(track))
        elif peer_id == self._video_peer:
            self._spawn(self._receive_video(track))
        else:
            # Still drained: an unread remote track queues every frame in memory.
            self._spawn(self._drain(track))

    async def stop(self) -> FileFacts:
        """Close the file, up to now on the timeline, and describe it."""
        if self._stopped:
            raise RuntimeError("recording already stopped")
        self._stopped = True
        end = self._position(RATE)
        for task in list(self._state.tasks):
            task.cancel()
        await asyncio.gather(*self._state.tasks, return_exceptions=True)
        try:
            self._decide_header(force=True)
            await self._write_mix(end)
            await self._run(self._recording_file().close)
            facts: FileFacts = await self._run(inspect, self.path)
            return facts
        finally:
            self._writer.shutdown(wait=False)

    # -- receiving ----------------------------------------------------------------------

    async def _receive_audio(self, track: MediaStreamTrack) -> None:
        timeline = TrackTimeline(int(MAX_DRIFT * RATE))
        resampler = av.AudioResampler(format="s16", layout="mono", rate=RATE)
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            assert isinstance(frame, av.AudioFrame)
            arrival = self._position(RATE)
            pts = _rescale(frame.pts, frame.time_base, RATE)
            position = timeline.position(pts, arrival)
            for out in resampler.resample(frame):
                self._mixer.add(position, bytes(out.planes[0])[: out.samples * 2])
                position += out.samples

    async def _receive_video(self, track: MediaStreamTrack) -> None:
        timeline = TrackTimeline(int(MAX_DRIFT * VIDEO_CLOCK))
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            assert isinstance(frame, av.VideoFrame)
            arrival = self._position(VIDEO_CLOCK)
            position = timeline.position(_rescale(frame.pts, frame.time_base, VIDEO_CLOCK), arrival)
            if self._state.video_dropped is not None or self._video_busy:
                # Busy encoding the previous frame: dropping this one lowers the frame
                # rate instead of queueing frames without bound.
                continue
            if not self._header_decided:
                self._header_decided = True
                await self._run(self._recording_file().add_video, frame.width, frame.height)
            self._video_busy = True
            self._spawn(self._write_video(frame, position))

    async def _write_video(self, frame: Any, position: int) -> None:
        try:
            await self._run(self._recording_file().write_video, frame, position)
        finally:
            self._video_busy = False

    async def _drain(self, track: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                await track.recv()

    # -- writing ------------------------------------------------------------------------

    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_INTERVAL)
            self._decide_header(force=False)
            if self._header_decided:
                await self._write_mix(self._position(RATE) - int(MIX_LATENCY * RATE))

    def _decide_header(self, *, force: bool) -> None:
        if self._header_decided:
            return
        waited = time.monotonic() - self._started
        if force or self._state.video_dropped is not None or waited >= VIDEO_WAIT:
            if self._state.video_dropped is None:
                self._state.video_dropped = "no video received"
            self._header_decided = True

    async def _write_mix(self, until: int) -> None:
        start = self._mixer.taken
        pcm = self._mixer.take(until)
        if pcm:
            await self._run(self._recording_file().write_audio, pcm, start)

    async def _pressure_loop(self) -> None:
        while self._state.video_dropped is None:
            await asyncio.sleep(self._pressure.interval)
            self._check_pressure()

    def _check_pressure(self) -> None:
        if self._state.video_dropped is not None:
            return
        share = self._pressure.gauge.share()
        if share > self._pressure.threshold:
            self._state.video_dropped = "cpu pressure"
            log.warning(
                "recording drops video: process CPU %.0f%% of a core is above %.0f%%",
                share * 100,
                self._pressure.threshold * 100,
            )

    # -- helpers ------------------------------------------------------------------------

    def _recording_file(self) -> RecordingFile:
        assert self._file is not None, "recording not started"
        return self._file

    def _position(self, rate: int) -> int:
        return int((time.monotonic() - self._started) * rate)

    async def _run(self, function: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._writer, function, *args)

    def _spawn(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._state.tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._state.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("recording task failed", exc_info=task.exception())


def _rescale(pts: int | None, time_base: Fraction | None, rate: int) -> int:
    if pts is None or time_base is None:
        return 0
    return int(pts * time_base * rate)
