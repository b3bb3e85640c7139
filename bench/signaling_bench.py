"""What recording costs the server: CPU per recorded stream, and memory across 100 recorder
peer connections opened and closed.

    python -m bench.signaling_bench [--seconds 10] [--connections 100]

The participants (aiortc peers sending a tone each and, for the requesting site, a moving
640x360 picture) run in a child process, so that the CPU measured (``process_time`` over
wall time, all threads of this process) is the server's alone: receiving, decoding,
mixing, encoding and writing. The memory figure is this process's VmRSS from
/proc/self/status, after ``gc.collect()``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import multiprocessing
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path

import av
from aiortc import RTCConfiguration, RTCPeerConnection
from aiortc.mediastreams import MediaStreamError, VideoStreamTrack
from PIL import Image, ImageDraw

from telemed.clock import SystemClock
from telemed.signaling.media.peers import PeerRegistry
from telemed.signaling.media.recorder import RecordedPeer, RecordingResult
from telemed.signaling.media.recordings import RecordingPolicy, Recordings
from tests.support.media import Participant, wait_for

CASE = 1
WIDTH, HEIGHT, FPS = 640, 360, 30


class IdleGauge:
    """No degradation during the benchmark: it measures the full cost of video."""

    def share(self) -> float:
        return 0.0


class PatternTrack(VideoStreamTrack):
    """A moving picture (a sweeping bar over a gradient) an encoder has to work for."""

    def __init__(self) -> None:
        super().__init__()
        self._frames = [self._draw(n) for n in range(FPS)]
        self._count = 0

    @staticmethod
    def _draw(n: int) -> av.VideoFrame:
        image = Image.linear_gradient("L").resize((WIDTH, HEIGHT)).convert("RGB")
        draw = ImageDraw.Draw(image)
        x = n * WIDTH // FPS
        draw.rectangle((x, 0, x + 60, HEIGHT), fill=(200, 40, 40))
        draw.ellipse((WIDTH - x - 80, 100, WIDTH - x, 180), fill=(40, 200, 90))
        frame = av.VideoFrame.from_image(image)  # type: ignore[no-untyped-call]
        converted: av.VideoFrame = frame.reformat(format="yuv420p")
        return converted

    async def recv(self) -> av.VideoFrame:
        if self.readyState != "live":
            raise MediaStreamError
        pts, time_base = await self.next_timestamp()
        frame = self._frames[self._count % FPS]
        self._count += 1
        frame.pts, frame.time_base = pts, time_base
        return frame


def _run_participants(pipe: Connection, count: int, video: bool) -> None:
    asyncio.run(_participants(pipe, count, video))


async def _participants(pipe: Connection, count: int, video: bool) -> None:
    peers = [Participant(300 + 150 * n, video=False) for n in range(count)]
    if video:
        peers[0].pc.addTrack(PatternTrack())
    try:
        pipe.send([await peer.offer() for peer in peers])
        answers = await asyncio.to_thread(pipe.recv)
        for peer, answer in zip(peers, answers, strict=True):
            await peer.accept(answer)
        await wait_for(lambda: all(p.pc.connectionState == "connected" for p in peers), 30)
        pipe.send("connected")
        await asyncio.to_thread(pipe.recv)
    finally:
        for peer in peers:
            await peer.close()


async def _discard(_result: RecordingResult) -> None:
    """The benchmark measures recording, not what happens to the file afterwards."""


def _recordings(directory: Path, registry: PeerRegistry) -> Recordings:
    return Recordings(
        registry,
        SystemClock(),
        RecordingPolicy(directory, max_seconds=3600, cpu_threshold=1e9),
        configuration=lambda: RTCConfiguration(iceServers=[]),
        gauge=IdleGauge(),
    )


async def cpu_share(count: int, video: bool, seconds: float) -> tuple[float, float]:
    """The share of one core this process spends while ``count`` participants are
    recorded (one of them with video); and the recording's length."""
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    child = context.Process(target=_run_participants, args=(theirs, count, video))
    child.start()
    with tempfile.TemporaryDirectory() as tmp:
        recordings = _recordings(Path(tmp), PeerRegistry())
        peers = [RecordedPeer(f"p{n}", n, video=video and n == 0) for n in range(count)]
        try:
            offers = await asyncio.to_thread(ours.recv)
            await recordings.start(CASE, peers, _discard)
            ours.send(
                [
                    await recordings.answer(CASE, p.peer_id, o)
                    for p, o in zip(peers, offers, strict=True)
                ]
            )
            await asyncio.to_thread(ours.recv)
            await asyncio.sleep(2)  # past the start: the first keyframes, the header
            cpu, wall = time.process_time(), time.monotonic()
            await asyncio.sleep(seconds)
            share = (time.process_time() - cpu) / (time.monotonic() - wall)
            result = await recordings.stop(CASE)
        finally:
            ours.send("stop")
            await recordings.shutdown()
            await asyncio.to_thread(child.join, 30)
    assert result.has_video == video
    return share, result.duration


def rss_kib() -> int:
    gc.collect()
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


async def memory(connections: int) -> tuple[int, int, int, int]:
    """RSS before and after opening and closing ``connections`` recorder connections
    (each a recording of one participant), the live RTCPeerConnection objects left, and
    the registry's size."""
    registry = PeerRegistry()
    with tempfile.TemporaryDirectory() as tmp:
        recordings = _recordings(Path(tmp), registry)

        async def one_call(n: int) -> None:
            participant = Participant(440, video=False)
            try:
                await recordings.start(n, [RecordedPeer("site", 1)], _discard)
                await participant.accept(
                    await recordings.answer(n, "site", await participant.offer())
                )
                await wait_for(lambda: participant.pc.connectionState == "connected", 30)
                await recordings.stop(n)
            finally:
                await participant.close()

        await one_call(0)  # imports, codecs and caches warmed up before the first figure
        before = rss_kib()
        for n in range(1, connections + 1):
            await one_call(n)
        await asyncio.sleep(1)  # aiortc's last closing tasks
        after = rss_kib()
        await recordings.shutdown()
    alive = sum(1 for o in gc.get_objects() if isinstance(o, RTCPeerConnection))
    return before, after, alive, len(registry)


async def main(seconds: float, connections: int) -> None:
    print(f"CPU while recording ({seconds:.0f} s measured; share of one core, server only)")
    print("participants | video | CPU share | per participant")
    for count, video in ((1, False), (2, False), (4, False), (1, True), (2, True), (4, True)):
        share, _ = await cpu_share(count, video, seconds)
        label = "640x360" if video else "-"
        print(f"{count:12d} | {label:>7} | {share * 100:8.1f}% | {share / count * 100:6.1f}%")
    before, after, alive, registered = await memory(connections)
    print(
        f"memory: RSS {before / 1024:.1f} MiB before, {after / 1024:.1f} MiB after "
        f"{connections} recorder connections opened and closed "
        f"({(after - before) / 1024:+.1f} MiB); RTCPeerConnection objects alive: {alive}; "
        f"registry size: {registered}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=100)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.seconds, arguments.connections))
