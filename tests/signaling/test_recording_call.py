"""Recording a call end to end: real Socket.IO clients and real aiortc peers in a case's
call, consent and start over ``rec:*``, the server's recorder peer reached through
``rtc:signal``, and the finished file attached to the case, downloadable and playable."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import av
import pytest

from telemed import appkeys
from telemed.shapes import Json
from telemed.signaling.media.recorder import MAX_DRIFT
from tests.support.api import call, step_up
from tests.support.callers import Caller, in_call
from tests.support.cases import DRAFT, in_session_case
from tests.support.media import CODEC_SLACK, RATE, decoded_audio, tone_power
from tests.support.server import RunningServer, SignedIn

# Real-time media in this process: starved of CPU, frames arrive too late to record.
pytestmark = [pytest.mark.slow, pytest.mark.exclusive]

DOCTOR_TONE, CHAIR_TONE, ABSENT_TONE = 440, 660, 1000
RECORD_SECONDS = 3.0


@pytest.fixture
def settings(make_settings: Callable[..., Any]) -> Any:
    # The test process also runs both participants (VP8 encoding each way), which the
    # server's CPU gauge counts as its own: video must not be dropped for their sake.
    return make_settings(
        socket_rate_per_second=1000, socket_burst=1000, recording_cpu_threshold=100.0
    )


async def doctor_and_chair(
    server: RunningServer, callers: list[Caller]
) -> tuple[int, SignedIn, Caller, Caller]:
    """An in-session case with the requesting doctor and the chair in its call, each
    receiving the other's media."""
    case_id, chair_http = await in_session_case(server)
    doctor, chair = await in_call(
        server, callers, case_id, ("bs.namcan", DOCTOR_TONE), ("gs.chutoa", CHAIR_TONE)
    )
    return case_id, chair_http, doctor, chair


async def consent(person: Caller, given: bool = True) -> Json:
    return await person.who.request("rec:consent", {"case_id": person.case_id, "consent": given})


def recorder_connected(person: Caller) -> bool:
    pc = person.recorder_pc
    return pc is not None and pc.connectionState == "connected"


def recorder_closed(person: Caller) -> bool:
    return person.recorder_pc is None


async def start_recording(chair: Caller, *people: Caller) -> Json:
    ack = await chair.who.request("rec:start", {"case_id": chair.case_id})
    assert ack["ok"] is True, ack
    # Each recorded participant was asked (from "recorder") to offer it a connection.
    for person in people:
        await person.who.until(partial(recorder_connected, person))
    return ack


async def both_recorded(
    server: RunningServer, callers: list[Caller]
) -> tuple[int, SignedIn, Caller, Caller]:
    """The doctor and the chair in the call, both consenting, the chair recording."""
    case_id, chair_http, doctor, chair = await doctor_and_chair(server, callers)
    assert (await consent(doctor))["ok"] is True
    assert (await consent(chair))["ok"] is True
    await start_recording(chair, doctor, chair)
    return case_id, chair_http, doctor, chair


async def events_of(who: SignedIn, case_id: int) -> list[Json]:
    log = await call(who, "GET", f"/api/v1/cases/{case_id}/events?limit=500")
    events: list[Json] = log["events"]
    return events


async def download(who: SignedIn, case_id: int, attachment_id: int) -> tuple[int, bytes]:
    path = f"/api/v1/cases/{case_id}/attachments/{attachment_id}"
    async with who.http.get(path, headers=who.bearer) as response:
        return response.status, await response.read()


async def until_true(condition: Callable[[], bool], within: float = 20.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)


async def test_a_consented_recording_is_attached_playable_and_private_to_the_case(
    server: RunningServer, callers: list[Caller], tmp_path: Path
) -> None:
    case_id, chair_http, doctor, chair = await doctor_and_chair(server, callers)
    registry = server.app[appkeys.CALLS].peers
    assert doctor.who.signed is not None
    doctor_http = doctor.who.signed

    # Nobody consented yet: refused, naming both; then the chair is still missing.
    refused = await chair.who.request("rec:start", {"case_id": case_id})
    assert refused["error"]["code"] == "conflict"
    assert sorted(refused["error"]["missing"]) == sorted([doctor.peer_id, chair.peer_id])
    assert (await consent(doctor))["ok"] is True
    refused = await chair.who.request("rec:start", {"case_id": case_id})
    assert refused["error"]["missing"] == [chair.peer_id]
    assert chair_http.user["full_name"] in refused["error"]["message"]
    assert doctor_http.user["full_name"] not in refused["error"]["message"]
    # Only the chair or secretary starts a recording.
    assert (await consent(chair))["ok"] is True
    refused = await doctor.who.request("rec:start", {"case_id": case_id})
    assert refused["error"]["code"] == "forbidden"
    assert len(registry) == 0

    began = time.monotonic()
    started = await start_recording(chair, doctor, chair)
    running = time.monotonic()  # rec:start was acknowledged: the recorder has started
    assert sorted(started["recorded"]) == sorted([doctor.peer_id, chair.peer_id])
    assert len(registry) == 2  # the recorder's two receive-only connections
    # Counted from both connections up, however long connecting took under load.
    await asyncio.sleep(RECORD_SECONDS)
    recorded = time.monotonic() - running
    stopped = await chair.who.request("rec:stop", {"case_id": case_id})
    around = time.monotonic() - began

    assert stopped["ok"] is True, stopped
    attachment = stopped["attachment"]
    assert attachment["kind"] == "recording"
    assert attachment["filename"].endswith(".mkv")
    # The recorder's connections are closed and forgotten; the participants were told.
    assert len(registry) == 0
    for person in (doctor, chair):
        await person.who.until(partial(recorder_closed, person))

    # The doctor downloads exactly the bytes the API describes.
    status, data = await download(doctor_http, case_id, attachment["id"])
    assert status == 200
    assert hashlib.sha256(data).hexdigest() == attachment["sha256"]
    assert len(data) == attachment["size"]
    board = await call(doctor_http, "GET", f"/api/v1/cases/{case_id}")
    listed = {a["id"]: a for a in board["attachments"]}
    assert listed[attachment["id"]]["sha256"] == attachment["sha256"]

    # A player finds both streams, decodes both, and the length is the recorded time.
    path = tmp_path / "downloaded.mkv"
    path.write_bytes(data)
    with av.open(str(path)) as container:
        assert len(container.streams.audio) == 1
        assert len(container.streams.video) == 1
        duration = (container.duration or 0) / av.time_base
        audio_frames = sum(1 for _ in container.decode(audio=0))
    with av.open(str(path)) as container:
        video_frames = sum(1 for _ in container.decode(video=0))
    assert audio_frames > 0
    assert video_frames > 0
    # The recorded time: at least from the start's ack to sending rec:stop, at most from
    # sending rec:start to the stop's ack (video may be placed up to MAX_DRIFT ahead).
    assert recorded - CODEC_SLACK <= duration <= around + MAX_DRIFT, (recorded, around)
    # Both voices are in the mix near the end, and nothing else.
    pcm, _ = decoded_audio(path)
    window = len(pcm) // 2 - RATE - RATE // 4
    assert tone_power(pcm, DOCTOR_TONE, window) > 0.05
    assert tone_power(pcm, CHAIR_TONE, window) > 0.05
    assert tone_power(pcm, ABSENT_TONE, window) < 0.01

    events = await events_of(chair_http, case_id)
    kinds = [e["type"] for e in events if e["type"].startswith("recording.")]
    assert kinds == [
        "recording.consent",
        "recording.consent",
        "recording.started",
        "recording.stopped",
    ]
    added = [e for e in events if e["type"] == "attachment.added"]
    assert [e["data"]["attachment"]["id"] for e in added] == [attachment["id"]]

    # A doctor of another facility may not know the recording exists.
    stranger = await server.sign_in("bs.uminh")
    status, _ = await download(stranger, case_id, attachment["id"])
    assert status == 404


async def test_withdrawing_consent_stops_the_recording_and_keeps_what_was_recorded(
    server: RunningServer, callers: list[Caller]
) -> None:
    case_id, chair_http, doctor, chair = await both_recorded(server, callers)
    registry = server.app[appkeys.CALLS].peers
    recordings = server.app[appkeys.CALLS].recordings

    assert (await consent(doctor, False))["ok"] is True

    assert not recordings.is_recording(case_id)
    assert len(registry) == 0
    await doctor.who.until(lambda: doctor.recorder_pc is None)
    events = await events_of(chair_http, case_id)
    stops = [e["data"] for e in events if e["type"] == "recording.stopped"]
    assert stops == [{"reason": "consent withdrawn"}]
    board = await call(chair_http, "GET", f"/api/v1/cases/{case_id}")
    assert [a["kind"] for a in board["attachments"]] == ["recording"]
    # Without everyone's consent it cannot start again.
    refused = await chair.who.request("rec:start", {"case_id": case_id})
    assert refused["error"]["missing"] == [doctor.peer_id]


async def test_the_recording_ends_with_the_session_and_is_still_attached(
    server: RunningServer, callers: list[Caller]
) -> None:
    case_id, chair_http, doctor, chair = await both_recorded(server, callers)
    registry = server.app[appkeys.CALLS].peers
    recordings = server.app[appkeys.CALLS].recordings
    await asyncio.sleep(1.0)  # something to record

    path = f"/api/v1/cases/{case_id}"
    await call(chair_http, "PUT", path + "/decision/draft", DRAFT)
    await step_up(chair_http)
    await call(chair_http, "POST", path + "/decision/sign", {"version": 1})

    for person in (doctor, chair):
        await person.who.until(partial(person.heard, "call:ended"))
    board: Json = {}

    async def attached() -> bool:
        nonlocal board
        board = await call(chair_http, "GET", path)
        return bool(board["attachments"])

    deadline = time.monotonic() + 20
    while not await attached():
        assert time.monotonic() < deadline, "the recording was not attached"
        await asyncio.sleep(0.1)
    assert board["status"] == "decided"
    assert [a["kind"] for a in board["attachments"]] == ["recording"]
    assert not recordings.is_recording(case_id)
    stops = [e for e in await events_of(chair_http, case_id) if e["type"] == "recording.stopped"]
    assert [e["data"] for e in stops] == [{"reason": "session ended"}]
    # Nothing the server opened for this call is left open.
    await until_true(lambda: len(registry) == 0)
    assert registry.connections() == []
    for person in (doctor, chair):
        await person.who.until(partial(recorder_closed, person))
