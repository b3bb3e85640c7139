"""``rtc:signal`` relays WebRTC's own dictionaries only: RTCSessionDescriptionInit and
RTCIceCandidateInit, bounded. Nothing else reaches the other participant's browser."""

from __future__ import annotations

import math

from telemed.shapes import Json
from tests.support.cases import in_session_case
from tests.support.participants import Participant, participant
from tests.support.server import RunningServer

CANDIDATE = {
    "candidate": "candidate:1 1 udp 2122260223 192.0.2.7 54400 typ host",
    "sdpMid": "0",
    "sdpMLineIndex": 0,
    "usernameFragment": "a1b2",
}


async def _in_call(server: RunningServer, case_id: int, username: str) -> tuple[Participant, str]:
    who = await participant(server, username)
    assert (await who.join(case_id))["ok"] is True
    ack = await who.request("call:join", {"case_id": case_id})
    assert ack["state"] == "in_call", ack
    return who, ack["peer_id"]


async def _call(server: RunningServer) -> tuple[int, Participant, Participant, str, list[Json]]:
    """A doctor and the chair in a call; the signals the chair receives."""
    case_id, _chair = await in_session_case(server)
    doctor, _doctor_id = await _in_call(server, case_id, "bs.namcan")
    chair, chair_id = await _in_call(server, case_id, "gs.chutoa")
    received: list[Json] = []

    def on_signal(message: Json) -> None:
        received.append(message)
        chair.changed.set()

    chair.client.on("rtc:signal", on_signal)
    return case_id, doctor, chair, chair_id, received


async def _signal(who: Participant, case_id: int, to: str, data: object) -> Json:
    return await who.request("rtc:signal", {"case_id": case_id, "to": to, "data": data})


async def test_nan_in_a_signal_is_refused_and_the_other_participant_stays_in_the_call(
    server: RunningServer,
) -> None:
    case_id, doctor, chair, chair_id, received = await _call(server)
    for bad in (
        {"candidate": {**CANDIDATE, "sdpMLineIndex": math.nan}},
        {"candidate": {**CANDIDATE, "sdpMLineIndex": math.inf}},
        {"description": {"type": "offer", "sdp": "v=0", "x": -math.inf}},
    ):
        ack = await _signal(doctor, case_id, chair_id, bad)
        assert ack["error"]["code"] == "validation_error", ack
    # The chair is still connected and receives the next signal, and only that one.
    assert (await _signal(doctor, case_id, chair_id, {"candidate": CANDIDATE}))["ok"] is True
    await chair.until(lambda: bool(received))
    assert chair.client.connected
    assert [m["data"] for m in received] == [{"candidate": CANDIDATE}]


OUTSIDE = [
    {"candidate": {**CANDIDATE, "sdpMLineIndex": 65536}},
    {"candidate": {**CANDIDATE, "sdpMLineIndex": 1.5}},
    {"candidate": {**CANDIDATE, "sdpMLineIndex": "0"}},
    {"candidate": {**CANDIDATE, "sdpMid": {"nested": [1, 2]}}},
    {"candidate": {**CANDIDATE, "candidate": "x" * 1025}},
    {"candidate": {**CANDIDATE, "usernameFragment": "u" * 257}},
    {"candidate": {**CANDIDATE, "extra": 1}},
    {"candidate": "candidate:1"},
    {"description": {"type": "offerx", "sdp": "v=0"}},
    {"description": {"type": "offer", "sdp": 5}},
    {"description": {"type": "offer", "sdp": "v" * (20 * 1024 + 1)}},
    {"description": {"type": "answer", "sdp": "v=0", "extra": [[[]]]}},
    {"description": {"type": "answer", "sdp": "v=0"}, "candidate": CANDIDATE},
    {},
    {"other": {}},
]


async def test_signals_outside_the_webrtc_shapes_are_refused_and_not_relayed(
    server: RunningServer,
) -> None:
    case_id, doctor, chair, chair_id, received = await _call(server)
    for data in OUTSIDE:
        ack = await _signal(doctor, case_id, chair_id, data)
        assert ack.get("error", {}).get("code") == "validation_error", data
    rollback = {"description": {"type": "rollback"}}
    assert (await _signal(doctor, case_id, chair_id, rollback))["ok"] is True
    await chair.until(lambda: bool(received))
    assert [m["data"] for m in received] == [rollback]
