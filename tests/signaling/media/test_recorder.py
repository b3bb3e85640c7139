"""Recording a session with real aiortc participants: what the file holds, and that no
server peer connection outlives its reason to exist."""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path

import av
import pytest
from aiortc import RTCConfiguration

from telemed import appkeys
from telemed.clock import SystemClock
from telemed.signaling.media.cpu import ProcessCpuGauge
from telemed.signaling.media.peers import PeerRegistry
from telemed.signaling.media.recorder import MAX_DRIFT, RecordedPeer, RecordingResult
from telemed.signaling.media.recordings import RecordingPolicy, Recordings
from tests.support.media import (
    CODEC_SLACK,
    RATE,
    Participant,
    connect,
    decoded_audio,
    decoded_video_frames,
    tone_power,
    wait_for,
)
from tests.support.server import RunningServer

# Real-time media in this process: starved of CPU, frames arrive too late to record.
pytestmark = [pytest.mark.slow, pytest.mark.exclusive]

CASE = 41
SITE = RecordedPeer("peer-site", user_id=1, video=True)
COUNCIL = RecordedPeer("peer-council", user_id=3)
SITE_TONE, COUNCIL_TONE, ABSENT_TONE = 440, 1000, 700


class FixedGauge:
    """A CPU reading chosen by the test, to force (or rule out) pressure."""

    def __init__(self, share: float) -> None:
        self.value = share

    def share(self) -> float:
        return self.value


def make_recordings(
    tmp_path: Path,
    registry: PeerRegistry,
    *,
    gauge: FixedGauge | None = None,
    max_seconds: float = 4 * 3600,
) -> Recordings:
    return Recordings(
        registry,
        SystemClock(),
        RecordingPolicy(tmp_path / "recordings", max_seconds, cpu_threshold=0.9),
        configuration=lambda: RTCConfiguration(iceServers=[]),
        gauge=gauge or FixedGauge(0.1),
    )


class Finished(list[RecordingResult]):
    """Where a test's recordings go when they stop (the server attaches them to the case)."""

    async def __call__(self, result: RecordingResult) -> None:
        self.append(result)


@pytest.fixture
async def participants() -> AsyncIterator[tuple[Participant, Participant]]:
    site = Participant(SITE_TONE, video=True)
    council = Participant(COUNCIL_TONE, video=True)
    try:
        yield site, council
    finally:
        await site.close()
        await council.close()


async def record(
    recordings: Recordings, site: Participant, council: Participant, seconds: float
) -> tuple[RecordingResult, float, float]:
    """Record both participants for ``seconds`` once both are connected (however long
    connecting took). Also returns the shortest and the longest the file may last: from
    start() returning to stop() being called, and from calling start() to stop() returning.
    """
    began = time.monotonic()
    await recordings.start(CASE, [SITE, COUNCIL], Finished())
    started = time.monotonic()
    await connect(site, lambda offer: recordings.answer(CASE, SITE.peer_id, offer))
    await connect(council, lambda offer: recordings.answer(CASE, COUNCIL.peer_id, offer))
    await asyncio.sleep(seconds)
    stopping = time.monotonic()
    result = await recordings.stop(CASE)
    return result, stopping - started, time.monotonic() - began


async def test_a_recording_lets_a_reviewer_hear_everyone_and_see_the_requesting_site(
    tmp_path: Path, participants: tuple[Participant, Participant]
) -> None:
    registry = PeerRegistry()
    recordings = make_recordings(tmp_path, registry)
    site, council = participants
    try:
        result, shortest, longest = await record(recordings, site, council, 3.0)
    finally:
        await recordings.shutdown()

    assert result.path.parent == tmp_path / "recordings"
    assert result.has_video
    with av.open(str(result.path)) as container:
        assert len(container.streams.video) == 1
        assert len(container.streams.audio) == 1
        duration = (container.duration or 0) / av.time_base
    # The file lasts as long as the recording ran, measured around its start and stop
    # (its video may be placed up to MAX_DRIFT ahead: see TrackTimeline).
    assert shortest - CODEC_SLACK <= duration <= longest + MAX_DRIFT
    assert result.duration == pytest.approx(duration)
    data = result.path.read_bytes()
    assert result.size == len(data)
    assert result.sha256 == hashlib.sha256(data).hexdigest()

    pcm, _ = decoded_audio(result.path)
    # The last full second before the end: both participants are connected by then.
    window = len(pcm) // 2 - RATE - RATE // 4
    assert tone_power(pcm, SITE_TONE, window) > 0.05
    assert tone_power(pcm, COUNCIL_TONE, window) > 0.05
    assert tone_power(pcm, ABSENT_TONE, window) < 0.01
    # Black 640x480 frames from the requesting site, at a real frame rate.
    assert decoded_video_frames(result.path) > 10


async def test_cpu_pressure_records_audio_only(
    tmp_path: Path, participants: tuple[Participant, Participant]
) -> None:
    registry = PeerRegistry()
    recordings = make_recordings(tmp_path, registry, gauge=FixedGauge(3.0))
    site, council = participants
    try:
        result, _, _ = await record(recordings, site, council, 2.5)
    finally:
        await recordings.shutdown()

    assert not result.has_video
    assert result.audio_only_reason == "cpu pressure"
    with av.open(str(result.path)) as container:
        assert len(container.streams.video) == 0
        assert len(container.streams.audio) == 1
    pcm, _ = decoded_audio(result.path)
    window = len(pcm) // 2 - RATE - RATE // 4
    assert tone_power(pcm, SITE_TONE, window) > 0.05
    assert tone_power(pcm, COUNCIL_TONE, window) > 0.05


async def test_stopping_closes_and_forgets_every_recorder_connection(
    tmp_path: Path, participants: tuple[Participant, Participant]
) -> None:
    registry = PeerRegistry()
    recordings = make_recordings(tmp_path, registry)
    site, council = participants
    try:
        await recordings.start(CASE, [SITE, COUNCIL], Finished())
        await connect(site, lambda offer: recordings.answer(CASE, SITE.peer_id, offer))
        await connect(council, lambda offer: recordings.answer(CASE, COUNCIL.peer_id, offer))
        opened = registry.connections()
        assert len(registry) == 2
        await wait_for(lambda: all(pc.connectionState == "connected" for pc in opened))

        await recordings.stop(CASE)

        assert len(registry) == 0
        assert [pc.connectionState for pc in opened] == ["closed", "closed"]
    finally:
        await recordings.shutdown()


async def test_a_failed_connection_is_closed_and_forgotten_while_recording_goes_on(
    tmp_path: Path, participants: tuple[Participant, Participant]
) -> None:
    registry = PeerRegistry()
    recordings = make_recordings(tmp_path, registry)
    site, council = participants
    try:
        await recordings.start(CASE, [SITE, COUNCIL], Finished())
        await connect(site, lambda offer: recordings.answer(CASE, SITE.peer_id, offer))
        # The council's offer names a certificate it does not hold: the server's DTLS
        # check of the fingerprint fails, and with it the connection.
        offer = await council.offer()
        offer["sdp"] = re.sub(
            r"a=fingerprint:sha-256 \S+",
            "a=fingerprint:sha-256 " + ":".join(["AB"] * 32),
            str(offer["sdp"]),
        )
        await council.accept(await recordings.answer(CASE, COUNCIL.peer_id, offer))
        doomed = next(pc for pc in registry.connections() if pc.connectionState != "connected")

        await wait_for(lambda: len(registry) == 1)

        assert doomed.connectionState == "closed"
        assert recordings.is_recording(CASE)
        result = await recordings.stop(CASE)
        assert result.has_video
        assert len(registry) == 0
    finally:
        await recordings.shutdown()


async def test_ending_the_session_stops_the_recording_and_closes_its_connections(
    tmp_path: Path, participants: tuple[Participant, Participant]
) -> None:
    registry = PeerRegistry()
    finished = Finished()
    recordings = make_recordings(tmp_path, registry)
    site, _ = participants
    try:
        await recordings.start(CASE, [SITE], finished)
        await connect(site, lambda offer: recordings.answer(CASE, SITE.peer_id, offer))
        opened = registry.connections(CASE)

        result = await recordings.end_session(CASE)

        assert result is not None
        assert result.reason == "session ended"
        assert finished == [result]
        assert not recordings.is_recording(CASE)
        assert len(registry) == 0
        assert opened[0].connectionState == "closed"
    finally:
        await recordings.shutdown()


async def test_a_recording_stops_by_itself_at_the_maximum_length(
    tmp_path: Path, participants: tuple[Participant, Participant]
) -> None:
    registry = PeerRegistry()
    finished = Finished()
    recordings = make_recordings(tmp_path, registry, max_seconds=2.0)
    site, _ = participants
    try:
        began = time.monotonic()
        await recordings.start(CASE, [SITE], finished)
        await connect(site, lambda offer: recordings.answer(CASE, SITE.peer_id, offer))

        await wait_for(lambda: bool(finished))
        longest = time.monotonic() - began

        assert finished[0].reason == "maximum length reached"
        # Not cut before the limit; a busy event loop may stop it a little after.
        assert 2.0 - CODEC_SLACK <= finished[0].duration <= longest + MAX_DRIFT
        assert not recordings.is_recording(CASE)
        assert len(registry) == 0
    finally:
        await recordings.shutdown()


def test_the_process_gauge_reports_cpu_seconds_per_wall_second_over_a_minimum_window() -> None:
    readings = {"cpu": 10.0, "wall": 100.0}
    gauge = ProcessCpuGauge(
        min_window=0.5, cpu_time=lambda: readings["cpu"], wall_time=lambda: readings["wall"]
    )
    readings.update(cpu=11.5, wall=102.0)
    assert gauge.share() == pytest.approx(0.75)
    # Too soon after the last reading: the last figure again, not a noisy new one.
    readings.update(cpu=11.6, wall=102.1)
    assert gauge.share() == pytest.approx(0.75)
    readings.update(cpu=13.6, wall=103.1)
    assert gauge.share() == pytest.approx(2.1 / 1.1)


async def test_shutting_the_server_down_closes_every_server_peer_connection(
    server: RunningServer, participants: tuple[Participant, Participant]
) -> None:
    registry = server.app[appkeys.CALLS].peers
    recordings = server.app[appkeys.CALLS].recordings
    site, council = participants
    # Started here without a case room: keep the finished file instead of attaching it.
    finished = Finished()
    path = await recordings.start(CASE, [SITE, COUNCIL], finished)
    await connect(site, lambda offer: recordings.answer(CASE, SITE.peer_id, offer))
    await connect(council, lambda offer: recordings.answer(CASE, COUNCIL.peer_id, offer))
    opened = registry.connections()
    assert len(opened) == 2

    await server.close()

    assert len(registry) == 0
    assert [pc.connectionState for pc in opened] == ["closed", "closed"]
    assert not recordings.is_recording(CASE)
    assert [result.path for result in finished] == [path]
    # The recording was finished, not abandoned: the file is complete and playable.
    with av.open(str(path)) as container:
        assert len(container.streams.audio) == 1
