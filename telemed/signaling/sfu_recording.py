"""Recording a call that goes through the SFU: Janus writes what each recorded participant
publishes (it already receives it), and after the stop the streams are remuxed, not
re-encoded, into one Matroska file (media/remux.py): every recorded participant's voice
as its own audio track, and the requesting site's video.

The same contract as the aiortc recorder (``media.recordings.Recordings``: start, stop,
is_recording, end_session, shutdown, the result to ``finished``), so the recording control
(recording.py) keeps consent, the maximum length and the attachment the same for both.
Janus writes into ``TELEMED_JANUS_RECORDING_DIR`` (by default the data directory's
``recordings``): a folder Janus and Telemed both see.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from telemed.clock import Clock
from telemed.signaling.media.recorder import RecordedPeer, RecordingResult
from telemed.signaling.media.recordings import ActiveRecording, FinishedHook, RecordingSet
from telemed.signaling.media.remux import RecordedStream, remux
from telemed.signaling.sfu import SfuBridge

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JanusRecordingPolicy:
    directory: Path
    max_seconds: float
    pp_rec: str = "janus-pp-rec"
    ffmpeg: str = "ffmpeg"


@dataclass
class _Active(ActiveRecording):
    base: str
    peers: list[RecordedPeer]
    files: dict[str, str]


class JanusRecordings(RecordingSet[_Active]):
    def __init__(self, sfu: SfuBridge, clock: Clock, policy: JanusRecordingPolicy) -> None:
        super().__init__(clock, policy.max_seconds)
        self._sfu = sfu
        self._policy = policy

    async def start(
        self, case_id: int, peers: Sequence[RecordedPeer], finished: FinishedHook
    ) -> Path:
        base = self._file_name(case_id)
        # One base name per participant; Janus adds "-audio-0", "-video-1" ... and ".mjr".
        files = {peer.peer_id: f"{base}-{index}" for index, peer in enumerate(peers)}
        await self._sfu.record(case_id, files)
        self._begin(_Active(case_id, self._clock.now(), finished, base, list(peers), files))
        return self._policy.directory / f"{base}.mkv"

    async def stop(self, case_id: int, reason: str = "stopped") -> RecordingResult:
        # Janus keeps writing until it is told, a moment later: the file ends now. Real
        # time (not the injected clock), as Janus stamps its files with it.
        until_us = time.time_ns() // 1000
        active = await self._end(case_id)
        # Janus closes the files when recording stops (or the publisher has left).
        await self._sfu.stop_recording(case_id, list(active.files))
        output = self._policy.directory / f"{active.base}.mkv"
        streams = self._streams(active)
        # On failure the .mjr files stay in the directory for an administrator.
        facts = await asyncio.to_thread(
            partial(remux, pp_rec=self._policy.pp_rec, ffmpeg=self._policy.ffmpeg),
            streams,
            output,
            until_us=until_us,
        )
        for path in self._all_files(active):
            path.unlink(missing_ok=True)
        log.info(
            "janus recording of case %s stopped (%s): %.1f s, %d audio streams, video %s",
            case_id,
            reason,
            facts.duration,
            facts.audio_streams,
            facts.video_streams > 0,
        )
        return await self._hand_over(active, output, facts, reason, None)

    async def end_session(self, case_id: int) -> RecordingResult | None:
        return await self.stop(case_id, "session ended") if case_id in self._active else None

    async def shutdown(self) -> None:
        for case_id in list(self._active):
            try:
                await self.stop(case_id, "server shutdown")
            except Exception:
                log.exception("finishing the janus recording of case %s failed", case_id)

    def _streams(self, active: _Active) -> list[RecordedStream]:
        """Every recorded participant's audio, and video from the one asked for."""
        streams = []
        for peer in active.peers:
            base = self._policy.directory / active.files[peer.peer_id]
            kinds = ("audio", "video") if peer.video else ("audio",)
            for kind in kinds:
                for path in sorted(base.parent.glob(f"{base.name}-{kind}-*.mjr")):
                    streams.append(RecordedStream(path, kind))
        return streams

    def _all_files(self, active: _Active) -> list[Path]:
        return [
            path
            for name in active.files.values()
            for path in self._policy.directory.glob(f"{name}-*.mjr")
        ]
