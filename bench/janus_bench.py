"""Janus's CPU per forwarded stream: one publisher (audio and video), N subscribers; and
with ``--record N``, what recording costs per stream through Janus.

    python -m bench.janus_bench [--subscribers 4 16 32] [--seconds 10] [--size 320x240]
    python -m bench.janus_bench --record 4 [--seconds 10] [--size 640x360]

Needs root (Janus runs in a network namespace, as in the tests: libnice ignores loopback)
and Debian's ``janus``. Janus is started with the configuration ``telemed janus-config``
writes (one event loop), the publisher and the subscribers are aiortc peers in this
process, talking to Janus through Telemed's own Janus client. Once every subscriber
decodes video, Janus's CPU time (utime + stime of its process) is read over
``--seconds``: the figure is the share of one core per forwarded stream (one participant's
audio and video to one subscriber). The publisher sends a moving picture, so the video
has a realistic packet rate; this process (encoding, 2N decoders) is not what is
measured.

``--record N``: N publishers (audio and video each) in one room, first not recorded, then
recorded by Janus (``configure`` with ``record``), ``--seconds`` each; the difference in
Janus's CPU, per recorded publisher, is what writing costs live. Then each publisher's
files are made into one Matroska file exactly as Telemed does after a session
(``janus-pp-rec`` and ffmpeg stream copy, telemed/signaling/media/remux.py): their CPU
(this process and its children) per recorded second is the cost after the session.
Results go in docs/performance.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import resource
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import av
from aiortc import RTCBundlePolicy, RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack, VideoStreamTrack

from telemed.shapes import Json
from telemed.signaling.janus.client import Handle, Janus, JanusSession
from telemed.signaling.janus.transport import JanusHttp
from telemed.signaling.media.remux import RecordedStream, remux
from tests.support.janus import janus_in_namespace
from tests.support.media import ToneTrack
from tests.support.netns import NetnsLab

ROOM = 1
READERS: set[asyncio.Task[None]] = set()


class MovingVideo(VideoStreamTrack):
    """A gradient that moves every frame: real motion for the encoder, cheap to draw."""

    def __init__(self, width: int, height: int) -> None:
        super().__init__()
        self._size = (width, height)
        self._rows = [bytes((x + y) % 256 for x in range(width)) for y in range(height)]

    async def recv(self) -> av.VideoFrame:
        pts, time_base = await self.next_timestamp()
        width, height = self._size
        shift = pts // 3000 % width
        luma = b"".join(row[shift:] + row[:shift] for row in self._rows)
        frame = av.VideoFrame(width, height, "yuv420p")
        frame.planes[0].update(luma)
        for plane in frame.planes[1:]:
            plane.update(bytes([128]) * plane.buffer_size)
        frame.pts = pts
        frame.time_base = time_base
        return frame


async def _nothing(_event: Json) -> None:
    return None


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def wait_until(condition: Callable[[], bool], within: float) -> None:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("peers did not connect in time")
        await asyncio.sleep(0.1)


async def subscribe(session: JanusSession, frames: list[int], index: int) -> RTCPeerConnection:
    """One subscriber to the publisher's feed, counting the video frames it decodes."""
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE))

    async def read(track: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                await track.recv()
                if track.kind == "video":
                    frames[index] += 1

    @pc.on("track")
    def _track(track: MediaStreamTrack) -> None:
        READERS.add(asyncio.ensure_future(read(track)))

    handle = await session.attach(_nothing)
    body = {"request": "join", "ptype": "subscriber", "room": ROOM, "streams": [{"feed": 1}]}
    joined = await handle.message(body)
    assert joined.jsep is not None
    await pc.setRemoteDescription(RTCSessionDescription(joined.jsep["sdp"], "offer"))
    await pc.setLocalDescription(await pc.createAnswer())
    answer = {"type": "answer", "sdp": pc.localDescription.sdp}
    await handle.message({"request": "start"}, answer)
    return pc


async def publish(
    session: JanusSession, size: tuple[int, int], feed: int = 1
) -> tuple[RTCPeerConnection, Handle]:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.addTransceiver(ToneTrack(440), direction="sendonly")
    pc.addTransceiver(MovingVideo(*size), direction="sendonly")
    await pc.setLocalDescription(await pc.createOffer())
    handle = await session.attach(_nothing)
    offer = {"type": "offer", "sdp": pc.localDescription.sdp}
    body = {"request": "joinandconfigure", "ptype": "publisher", "room": ROOM, "id": feed}
    reply = await handle.message(body, offer)
    assert reply.jsep is not None
    await pc.setRemoteDescription(RTCSessionDescription(reply.jsep["sdp"], "answer"))
    await wait_until(lambda: pc.connectionState == "connected", 60)
    return pc, handle


async def measure(
    session: JanusSession, admin_key: str, pid: int, count: int, args: argparse.Namespace
) -> None:
    control = await session.attach(_nothing)
    create = {"request": "create", "room": ROOM, "admin_key": admin_key, "publishers": 2}
    await control.request(create)
    width, height = (int(v) for v in args.size.split("x"))
    publisher, _ = await publish(session, (width, height))
    frames = [0] * count
    subscribers = [await subscribe(session, frames, index) for index in range(count)]
    await wait_until(lambda: all(f >= 5 for f in frames), 120)

    before_cpu, before, before_frames = cpu_seconds(pid), time.monotonic(), sum(frames)
    await asyncio.sleep(args.seconds)
    used, elapsed = cpu_seconds(pid) - before_cpu, time.monotonic() - before
    fps = (sum(frames) - before_frames) / elapsed / count
    share = used / elapsed
    print(
        f"{count:3d} subscribers: Janus {100 * share:5.1f} % of a core, "
        f"{100 * share / count:5.2f} % per forwarded stream; "
        f"video received {fps:4.1f} fps per subscriber"
    )
    for task in list(READERS):
        task.cancel()
    for pc in [publisher, *subscribers]:
        await pc.close()
    await control.request({"request": "destroy", "room": ROOM})
    await control.detach()


def remux_feed(folder: Path, feed: int) -> float:
    """One publisher's recording made into one file, as Telemed does; its duration."""
    streams = [
        RecordedStream(path, kind)
        for kind in ("audio", "video")
        for path in sorted(folder.glob(f"p{feed}-{kind}-*.mjr"))
    ]
    made = remux(streams, folder / f"p{feed}.mkv", pp_rec="janus-pp-rec", ffmpeg="ffmpeg")
    return made.duration


def children_cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


async def measure_recording(
    session: JanusSession, admin_key: str, pid: int, count: int, args: argparse.Namespace
) -> None:
    folder = Path(args.folder) / "recordings"
    control = await session.attach(_nothing)
    create = {"request": "create", "room": ROOM, "admin_key": admin_key, "publishers": count}
    await control.request({**create, "rec_dir": str(folder)})
    width, height = (int(v) for v in args.size.split("x"))
    published = [await publish(session, (width, height), feed) for feed in range(1, count + 1)]
    await asyncio.sleep(2.0)  # past the first keyframes

    async def janus_share() -> float:
        before_cpu, before = cpu_seconds(pid), time.monotonic()
        await asyncio.sleep(args.seconds)
        return (cpu_seconds(pid) - before_cpu) / (time.monotonic() - before)

    plain = await janus_share()
    for feed, (_, handle) in enumerate(published, 1):
        await handle.message({"request": "configure", "record": True, "filename": f"p{feed}"})
    recording = await janus_share()
    for _, handle in published:
        await handle.message({"request": "configure", "record": False})
    for pc, _ in published:
        await pc.close()
    await control.request({"request": "destroy", "room": ROOM})
    await control.detach()

    started, recorded = children_cpu(), 0.0
    for feed in range(1, count + 1):
        recorded += await asyncio.to_thread(remux_feed, folder, feed)
    after = children_cpu() - started
    live = (recording - plain) / count
    print(
        f"{count} publishers {args.size}: Janus {100 * plain:.1f} % of a core, "
        f"{100 * recording:.1f} % while recording them: {100 * live:.2f} % per recorded "
        f"stream live; after the session {after:.2f} s of CPU for {recorded:.1f} s recorded "
        f"({100 * after / max(recorded, 0.001):.2f} % of a core per recorded stream)"
    )


async def run(
    janus_url: str, secret: str, admin_key: str, pid: int, args: argparse.Namespace
) -> None:
    api = Janus(JanusHttp(janus_url, secret))
    session = await api.session()
    try:
        if args.record:
            await measure_recording(session, admin_key, pid, args.record, args)
            return
        for count in args.subscribers:
            await measure(session, admin_key, pid, count, args)
    finally:
        await session.destroy()
        await api.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", type=int, nargs="+", default=[4, 16, 32])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--size", default="320x240")
    parser.add_argument("--record", type=int, default=0, help="publishers to record")
    args = parser.parse_args()
    lab = NetnsLab()
    try:
        with (
            tempfile.TemporaryDirectory() as folder,
            janus_in_namespace(lab, Path(folder), (22000, 22999)) as janus,
        ):
            args.folder = folder
            (Path(folder) / "recordings").mkdir(mode=0o777)
            asyncio.run(run(janus.url, janus.api_secret, janus.admin_key, janus.process.pid, args))
    finally:
        lab.close()


if __name__ == "__main__":
    main()
