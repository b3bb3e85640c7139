"""The recording file: one Matroska container with one mixed audio stream and at most one
video stream, written by PyAV.

Matroska because a file cut short by a crash still plays up to where it stopped, and it
holds H.264 and Opus, which VLC, mpv and Chromium play. Every method runs on the
recording's single writer thread: PyAV encoding is CPU work that must not stall the
event loop that carries signaling.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from telemed.signaling.media.mixer import RATE

VIDEO_CLOCK = 90_000
AUDIO_BITRATE = 48_000
# Cheap and fast enough for a server that also relays a call; the reviewer needs to see
# the patient and the images shown, not broadcast quality.
VIDEO_OPTIONS = {"preset": "ultrafast", "tune": "zerolatency"}
VIDEO_BITRATE = 800_000
HASH_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class FileFacts:
    duration: float
    size: int
    sha256: str
    audio_streams: int
    video_streams: int


class RecordingFile:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._container: Any = av.open(str(path), mode="w", format="matroska")
        self._audio: Any = self._container.add_stream("libopus", rate=RATE, layout="mono")
        self._audio.bit_rate = AUDIO_BITRATE
        self._video: Any = None
        self._video_pts = -1
        self._closed = False

    def add_video(self, width: int, height: int) -> None:
        """Only before the first audio is written: Matroska fixes its streams in the
        header. Odd sizes are rounded down, as H.264 in 4:2:0 needs even ones."""
        stream = self._container.add_stream("libx264", rate=30, options=dict(VIDEO_OPTIONS))
        stream.width, stream.height = width - width % 2, height - height % 2
        stream.pix_fmt = "yuv420p"
        stream.bit_rate = VIDEO_BITRATE
        stream.codec_context.time_base = Fraction(1, VIDEO_CLOCK)
        self._video = stream

    def write_audio(self, pcm: bytes, position: int) -> None:
        samples = len(pcm) // 2
        if samples == 0:
            return
        frame = av.AudioFrame(format="s16", layout="mono", samples=samples)
        frame.planes[0].update(pcm)
        frame.sample_rate = RATE
        frame.pts = position
        frame.time_base = Fraction(1, RATE)
        self._mux(self._audio.encode(frame))

    def write_video(self, frame: Any, position: int) -> None:
        """``position`` in 1/90000 s; frames not after the previous one are skipped."""
        if self._video is None or position <= self._video_pts:
            return
        width, height = self._video.width, self._video.height
        if frame.width != width or frame.height != height or frame.format.name != "yuv420p":
            frame = frame.reformat(width=width, height=height, format="yuv420p")
        frame.pts = position
        frame.time_base = Fraction(1, VIDEO_CLOCK)
        self._video_pts = position
        self._mux(self._video.encode(frame))

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._mux(self._audio.encode(None))
            if self._video is not None and self._video_pts >= 0:
                self._mux(self._video.encode(None))
        finally:
            self._container.close()

    def _mux(self, packets: Any) -> None:
        for packet in packets:
            self._container.mux(packet)


def inspect(path: Path) -> FileFacts:
    """What a reviewer's player will find, and the hash the case records."""
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(HASH_CHUNK):
            digest.update(chunk)
    with av.open(str(path)) as container:
        duration = (container.duration or 0) / av.time_base
        audio = len(container.streams.audio)
        video = len(container.streams.video)
    return FileFacts(duration, path.stat().st_size, digest.hexdigest(), audio, video)
