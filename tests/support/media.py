"""Real aiortc participants for the call and recording tests: tones that can be told apart,
black video, and what a reviewer's player would find in a recording."""

from __future__ import annotations

import asyncio
import math
import time
from array import array
from collections.abc import Awaitable, Callable
from fractions import Fraction
from pathlib import Path

import av
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import AudioStreamTrack, MediaStreamError, VideoStreamTrack

RATE = 48_000
FRAME_SAMPLES = 960  # 20 ms
# What Opus framing may add to or take from a file's length (one 20 ms frame, and its
# encoder delay): the file's duration is the recorder's timeline rounded to whole frames.
CODEC_SLACK = 0.03


class ToneTrack(AudioStreamTrack):
    """A sine at ``frequency`` Hz, in real time: one participant's voice."""

    def __init__(self, frequency: int, amplitude: int = 8000) -> None:
        super().__init__()
        # One second of samples holds a whole number of periods, so it loops seamlessly.
        self._second = array(
            "h",
            (int(amplitude * math.sin(2 * math.pi * frequency * n / RATE)) for n in range(RATE)),
        ).tobytes()
        self._sent = 0
        self._began: float | None = None

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._began is None:
            self._began = time.monotonic()
        else:
            await asyncio.sleep(max(0.0, self._began + self._sent / RATE - time.monotonic()))
        start = (self._sent % RATE) * 2
        frame = av.AudioFrame(format="s16", layout="mono", samples=FRAME_SAMPLES)
        frame.planes[0].update(self._second[start : start + FRAME_SAMPLES * 2])
        frame.sample_rate = RATE
        frame.pts = self._sent
        frame.time_base = Fraction(1, RATE)
        self._sent += FRAME_SAMPLES
        return frame


class SmallVideoTrack(VideoStreamTrack):
    """Video at 160x120 (black): cheap to encode and decode for calls of many peers."""

    async def recv(self) -> av.VideoFrame:
        pts, time_base = await self.next_timestamp()
        frame = av.VideoFrame(160, 120, "yuv420p")
        for plane in frame.planes:
            plane.update(bytes(plane.buffer_size))
        frame.pts = pts
        frame.time_base = time_base
        return frame


class Participant:
    """A browser stand-in: an aiortc peer sending a tone and, optionally, video."""

    def __init__(self, frequency: int, *, video: bool) -> None:
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.pc.addTrack(ToneTrack(frequency))
        if video:
            self.pc.addTrack(VideoStreamTrack())

    async def offer(self) -> dict[str, object]:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        local = self.pc.localDescription
        return {"type": local.type, "sdp": local.sdp}

    async def accept(self, answer: dict[str, str]) -> None:
        await self.pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], answer["type"]))

    async def close(self) -> None:
        await self.pc.close()


async def wait_for(condition: Callable[[], bool], within: float = 15.0) -> None:
    """Poll ``condition`` until it holds; fail after ``within`` seconds."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.05)


async def connect(
    participant: Participant, answer: Callable[[dict[str, object]], Awaitable[dict[str, str]]]
) -> None:
    await participant.accept(await answer(await participant.offer()))
    await wait_for(lambda: participant.pc.connectionState == "connected")


def decoded_audio(path: Path) -> tuple[bytes, int]:
    """The first audio stream as 16-bit mono samples at 48 kHz, and the stream count."""
    resampler = av.AudioResampler(format="s16", layout="mono", rate=RATE)
    pcm = bytearray()
    with av.open(str(path)) as container:
        streams = len(container.streams.audio)
        for frame in container.decode(audio=0):
            for out in resampler.resample(frame):
                pcm += bytes(out.planes[0])[: out.samples * 2]
    return bytes(pcm), streams


def decoded_video_frames(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def tone_power(pcm: bytes, frequency: float, start: int, length: int = RATE) -> float:
    """Goertzel: the power of one frequency in ``length`` samples from ``start``,
    relative to the power of the whole window (so a pure tone at ``frequency`` is ~0.5)."""
    samples = array("h")
    samples.frombytes(pcm[start * 2 : (start + length) * 2])
    coefficient = 2 * math.cos(2 * math.pi * frequency / RATE)
    previous = before = 0.0
    energy = 0.0
    for value in samples:
        current = value + coefficient * previous - before
        before, previous = previous, current
        energy += value * value
    power = previous * previous + before * before - coefficient * previous * before
    return power / (len(samples) * energy) if energy else 0.0
