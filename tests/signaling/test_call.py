"""The call through the server: real Socket.IO clients, real aiortc peers that negotiate
only through ``rtc:signal``, and the rules of who may signal whom, when."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import pytest

from telemed import appkeys
from telemed.audit.service import local_operator
from telemed.shapes import Json
from telemed.signaling.links import AUDIO_ONLY_AFTER
from tests.support.api import call, step_up
from tests.support.callers import Caller, caller, in_call
from tests.support.cases import DRAFT, create_case, in_session_case, to_scheduled, to_session
from tests.support.participants import Participant, participant
from tests.support.server import RunningServer, SignedIn

FRAMES = 15


@pytest.fixture
def settings(make_settings: Callable[..., Any]) -> Any:
    # Removal from a council is noticed by the periodic check: keep it short here. The
    # per-connection message limit is lifted so that the candidate limit is what refuses.
    return make_settings(
        socket_revalidate_seconds=0.3, socket_rate_per_second=1000, socket_burst=1000
    )


async def test_two_participants_negotiate_through_the_server_and_receive_each_others_media(
    server: RunningServer, callers: list[Caller]
) -> None:
    case_id, _chair = await in_session_case(server)
    doctor = await caller(server, callers, "bs.namcan", case_id, 440)
    chair = await caller(server, callers, "gs.chutoa", case_id, 660)
    first = await doctor.join_call()
    assert (first["state"], first["peers_in_call"]) == ("in_call", [])
    second = await chair.join_call()
    assert second["state"] == "in_call"
    assert [p["peer_id"] for p in second["peers_in_call"]] == [doctor.peer_id]

    await doctor.who.until(lambda: doctor.received_from(chair.peer_id, FRAMES))
    await chair.who.until(lambda: chair.received_from(doctor.peer_id, FRAMES))
    assert doctor.pcs[chair.peer_id].connectionState == "connected"
    assert chair.frame_sizes[doctor.peer_id] == (640, 480)
    # The doctor heard of the chair from the server, and both joins are in the case log.
    assert [n["peer"]["peer_id"] for n in doctor.got("call:peer_joined")] == [chair.peer_id]
    log = await call(_chair, "GET", f"/api/v1/cases/{case_id}/events")
    joins = [e["data"]["peer_id"] for e in log["events"] if e["type"] == "call.join"]
    assert joins == [doctor.peer_id, chair.peer_id]


async def test_three_participants_form_a_full_mesh(
    server: RunningServer, callers: list[Caller]
) -> None:
    case_id, _chair = await in_session_case(server)
    people = [
        await caller(server, callers, name, case_id, tone)
        for name, tone in (("bs.namcan", 440), ("gs.chutoa", 660), ("gs.timmach", 880))
    ]
    for person in people:
        assert (await person.join_call())["state"] == "in_call"
    for person in people:
        for other in people:
            if other is not person:
                await person.who.until(partial(person.received_from, other.peer_id, 10))
        assert len(person.pcs) == 2


async def _signal(who: Participant, case_id: int, to: str, data: Json | None = None) -> Json:
    payload = {"case_id": case_id, "to": to, "data": data or {"candidate": {"candidate": ""}}}
    return await who.request("rtc:signal", payload)


async def test_signals_are_refused_across_rooms_before_joining_to_unknown_peers_and_when_closed(
    server: RunningServer, callers: list[Caller]
) -> None:
    case_id, chair_http = await in_session_case(server)
    other_case = int((await create_case(await server.sign_in("bs.namcan")))["id"])
    await to_session(chair_http, other_case)
    doctor = await caller(server, callers, "bs.namcan", case_id, 440)
    member = await caller(server, callers, "gs.timmach", other_case, 660)
    await doctor.join_call()
    await member.join_call()

    # Across rooms: the member is in another case's call.
    refused = await _signal(member.who, other_case, doctor.peer_id)
    assert refused["error"]["code"] == "not_found"
    refused = await _signal(member.who, case_id, doctor.peer_id)
    assert refused["error"]["code"] == "forbidden"
    # Before joining: a socket in no room at all, then in the room but not the call.
    outsider = await participant(server, "gs.chutoa")
    callers.append(Caller(outsider, case_id, 550))
    assert (await _signal(outsider, case_id, doctor.peer_id))["error"]["code"] == "forbidden"
    assert (await outsider.join(case_id))["ok"] is True
    assert (await _signal(outsider, case_id, doctor.peer_id))["error"]["code"] == "forbidden"
    # To an unknown peer, to oneself, and too large.
    assert (await _signal(doctor.who, case_id, "nobody"))["error"]["code"] == "not_found"
    assert (await _signal(doctor.who, case_id, doctor.peer_id))["error"]["code"] == "not_found"
    big = {"description": {"type": "offer", "sdp": "v=0\r\n" + "a=x\r\n" * 5000}}
    assert (await _signal(doctor.who, case_id, "x", big))["error"]["code"] == "validation_error"
    bad = await _signal(doctor.who, case_id, "x", {"description": {}, "candidate": {}})
    assert bad["error"]["code"] == "validation_error"

    # While the call is not open: a scheduled case puts its callers in the lobby.
    scheduled = int((await create_case(await server.sign_in("bs.namcan")))["id"])
    await to_scheduled(chair_http, scheduled)
    early = await caller(server, callers, "bs.namcan", scheduled, 440)
    assert (await early.join_call())["state"] == "lobby"
    assert (await _signal(early.who, scheduled, "x"))["error"]["code"] == "forbidden"


async def test_candidates_beyond_the_rate_are_refused(
    server: RunningServer, callers: list[Caller]
) -> None:
    case_id, _chair = await in_session_case(server)
    doctor = await caller(server, callers, "bs.namcan", case_id, 440)
    chair = await caller(server, callers, "gs.chutoa", case_id, 660)
    await doctor.join_call()
    await chair.join_call()
    candidate = {"candidate": {"candidate": "", "sdpMid": "0"}}
    # The burst is 60 candidates (10/s after that): 100 in a row must run past it.
    codes = [
        (await _signal(doctor.who, case_id, chair.peer_id, candidate)).get("error", {}).get("code")
        for _ in range(100)
    ]
    accepted = codes.count(None)
    assert codes[:60] == [None] * 60
    assert "rate_limited" in codes
    assert set(codes) == {None, "rate_limited"}

    # Only the accepted candidates reached the chair (beside the descriptions of the call).
    def candidates() -> int:
        return sum("candidate" in signal["data"] for signal in chair.got("rtc:signal"))

    await chair.who.until(lambda: candidates() >= accepted)
    assert candidates() == accepted


async def test_the_lobby_is_admitted_when_the_chair_starts_the_session(
    server: RunningServer, callers: list[Caller]
) -> None:
    doctor_http, chair_http = await server.sign_in("bs.namcan"), await server.sign_in("gs.chutoa")
    case_id = int((await create_case(doctor_http))["id"])
    await to_scheduled(chair_http, case_id)
    chair = await caller(server, callers, "gs.chutoa", case_id, 660)
    doctor = await caller(server, callers, "bs.namcan", case_id, 440)
    waiting = await doctor.join_call()
    assert (waiting["state"], waiting["peers_in_call"]) == ("lobby", [])
    await chair.who.until(lambda: bool(chair.got("call:lobby")))
    lobby = chair.got("call:lobby")[-1]
    assert [p["peer_id"] for p in lobby["waiting"]] == [doctor.peer_id]
    # A secretary opening the room only now is told at once who waits.
    secretary = Caller(await participant(server, "ts.thuky"), case_id, 550)
    callers.append(secretary)
    assert (await secretary.who.join(case_id))["ok"] is True
    await secretary.who.until(partial(secretary.heard, "call:lobby"))
    assert [p["peer_id"] for p in secretary.got("call:lobby")[0]["waiting"]] == [doctor.peer_id]
    # Admitting is for an open call only.
    early = await chair.who.request("call:admit", {"case_id": case_id, "peer_id": doctor.peer_id})
    assert early["error"]["code"] == "conflict"
    # Only the chair or secretary starts the session.
    assert (await doctor.who.request("call:start", {"case_id": case_id}))["ok"] is False

    assert (await chair.who.request("call:start", {"case_id": case_id}))["ok"] is True
    await doctor.who.until(lambda: bool(doctor.got("call:admitted")))
    assert (await chair.join_call())["state"] == "in_call"
    await doctor.who.until(lambda: doctor.received_from(chair.peer_id, 5))
    assert chair.got("call:lobby")[-1]["waiting"] == []


async def sign(chair: SignedIn, path: str) -> None:
    await call(chair, "PUT", path + "/decision/draft", DRAFT)
    await step_up(chair)
    await call(chair, "POST", path + "/decision/sign", {"version": 1})


async def continue_in_writing(chair: SignedIn, path: str) -> None:
    body = {"action": "continue_in_writing", "answer_by": "2036-01-02T09:00:00+07:00"}
    await call(chair, "POST", path + "/transitions", body)


@pytest.mark.parametrize(
    ("end", "reason"),
    [(sign, "case decided"), (continue_in_writing, "case continued in writing")],
    ids=["decision signed", "continued in writing"],
)
async def test_the_call_ends_when_the_session_does(
    server: RunningServer,
    callers: list[Caller],
    end: Callable[[SignedIn, str], Awaitable[None]],
    reason: str,
) -> None:
    case_id, chair_http = await in_session_case(server)
    doctor, chair = await in_call(server, callers, case_id, ("bs.namcan", 440), ("gs.chutoa", 660))

    path = f"/api/v1/cases/{case_id}"
    await end(chair_http, path)
    for person in (doctor, chair):
        await person.who.until(partial(person.heard, "call:ended"))
        assert person.got("call:ended")[0]["reason"] == reason
    refused = await _signal(doctor.who, case_id, chair.peer_id)
    assert refused["error"]["code"] == "forbidden"
    actions = await call(chair_http, "GET", path + "/actions")
    assert "join_call" not in actions["allowed_actions"]
    log = await call(chair_http, "GET", path + "/events?limit=200")
    leaves = sorted(e["data"]["peer_id"] for e in log["events"] if e["type"] == "call.leave")
    assert leaves == sorted([doctor.peer_id, chair.peer_id])


async def test_a_participant_removed_from_the_council_loses_the_call(
    server: RunningServer, callers: list[Caller]
) -> None:
    case_id, _chair = await in_session_case(server)
    chair, member = await in_call(server, callers, case_id, ("gs.chutoa", 660), ("gs.timmach", 880))

    admin = local_operator("test")  # the CLI's actor: no session, on the server
    accounts = server.app[appkeys.ACCOUNT_SERVICE]
    await accounts.remove_membership(admin, "gs.timmach", "HDCM-MIENNAM")
    await member.who.until(lambda: bool(member.who.removed))
    await chair.who.until(lambda: bool(chair.got("call:peer_left")))
    assert chair.got("call:peer_left")[0]["peer_id"] == member.peer_id
    refused = await _signal(member.who, case_id, chair.peer_id)
    assert refused["error"]["code"] == "forbidden"


async def test_ice_servers_mode_and_stats_reach_the_right_people(
    server: RunningServer, callers: list[Caller]
) -> None:
    case_id, _chair = await in_session_case(server)
    doctor = await caller(server, callers, "bs.namcan", case_id, 440)
    chair = await caller(server, callers, "gs.chutoa", case_id, 660)
    member = await caller(server, callers, "gs.timmach", case_id, 880)
    assert await doctor.who.request("rtc:config", {}) == {"ok": True, "iceServers": []}
    for person in (doctor, chair, member):
        await person.join_call()

    mode = {"case_id": case_id, "audio_only": True}
    assert (await doctor.who.request("call:mode", mode))["ok"] is True
    await member.who.until(lambda: bool(member.got("call:mode")))
    assert member.got("call:mode")[0] == {**mode, "peer_id": doctor.peer_id, "screen": False}

    figures = {"case_id": case_id, "rtt_ms": 42.0, "packet_loss": 0.01, "bitrate_kbps": 300.0}
    assert (await doctor.who.request("rtc:stats", {**figures, "fps": 24.0}))["ok"] is True
    await chair.who.until(lambda: bool(chair.got("call:stats")))
    report = chair.got("call:stats")[-1]["peers"][doctor.peer_id]
    assert (report["rtt_ms"], report["fps"], report["audio_only"]) == (42.0, 24.0, True)
    await asyncio.sleep(0)  # the member (not chair or secretary) gets no figures
    assert member.got("call:stats") == []
    bad = await doctor.who.request("rtc:stats", {**figures, "packet_loss": 7})
    assert bad["error"]["code"] == "validation_error"


async def test_a_link_that_stays_poor_takes_its_participant_to_audio_only_and_says_so(
    server: RunningServer, callers: list[Caller]
) -> None:
    case_id, _chair = await in_session_case(server)
    doctor, chair = await in_call(server, callers, case_id, ("bs.namcan", 440), ("gs.chutoa", 660))
    poor = {"case_id": case_id, "rtt_ms": 120.0, "packet_loss": 0.2, "bitrate_kbps": 90.0}
    good = {**poor, "packet_loss": 0.0}
    # Poor spells shorter than the limit, broken by a good report, change nothing.
    spells = [poor] * (AUDIO_ONLY_AFTER - 1) + [good] + [poor] * (AUDIO_ONLY_AFTER - 1)
    for figures in spells:
        assert (await doctor.who.request("rtc:stats", figures))["ok"] is True
    await chair.who.until(lambda: len(chair.got("call:stats")) == len(spells))
    assert doctor.got("call:mode") == chair.got("call:mode") == []

    assert (await doctor.who.request("rtc:stats", poor))["ok"] is True
    said = {"case_id": case_id, "peer_id": doctor.peer_id, "audio_only": True, "screen": False}
    said["reason"] = "weak_link"
    await doctor.who.until(lambda: bool(doctor.got("call:mode")))
    await chair.who.until(lambda: bool(chair.got("call:mode")))
    # The participant itself hears it (its page stops the camera), and so does the room.
    assert doctor.got("call:mode") == chair.got("call:mode") == [said]
    assert chair.got("call:stats")[-1]["peers"][doctor.peer_id]["audio_only"] is True
    assert (await doctor.who.request("rtc:stats", poor))["ok"] is True
    await chair.who.until(lambda: len(chair.got("call:stats")) == len(spells) + 2)
    assert len(chair.got("call:mode")) == 1  # said once


async def test_a_reconnected_participant_takes_back_its_own_place_and_no_one_elses(
    server: RunningServer, callers: list[Caller]
) -> None:
    case_id, chair_http = await in_session_case(server)
    doctor, chair = await in_call(server, callers, case_id, ("bs.namcan", 440), ("gs.chutoa", 660))
    # Someone else's place is not given up for them.
    member = await caller(server, callers, "gs.timmach", case_id, 880)
    taken = {"case_id": case_id, "replaces": doctor.peer_id}
    joined = await member.who.request("call:join", taken)
    assert joined["state"] == "in_call"
    # The doctor's page comes back on a new connection before the server saw the old one
    # drop: it names its old place, which leaves the call at once.
    again = await caller(server, callers, "bs.namcan", case_id, 440)
    back = await again.who.request("call:join", taken)
    assert back["state"] == "in_call"
    assert sorted(p["peer_id"] for p in back["peers_in_call"]) == sorted(
        [chair.peer_id, joined["peer_id"]]
    )
    await chair.who.until(partial(chair.heard, "call:peer_left"))
    assert [n["peer_id"] for n in chair.got("call:peer_left")] == [doctor.peer_id]
    log = await call(chair_http, "GET", f"/api/v1/cases/{case_id}/events?limit=200")
    leaves = [e["data"] for e in log["events"] if e["type"] == "call.leave"]
    assert leaves == [{"peer_id": doctor.peer_id, "reason": "replaced"}]


async def test_a_mesh_past_four_video_participants_tells_the_chair_once(
    server: RunningServer, callers: list[Caller]
) -> None:
    # No SFU configured (the default): the call stays a mesh at any size.
    case_id, _chair = await in_session_case(server)
    names = ["gs.chutoa", "bs.namcan", "ts.thuky", "gs.timmach", "bs.namcan", "gs.timmach"]
    people = [await caller(server, callers, name, case_id, 440) for name in names]
    chair, secretary, member = people[0], people[2], people[3]

    async def enter(person: Caller) -> None:
        # Only the call's membership matters here: nobody negotiates media.
        ack = await person.who.request("call:join", {"case_id": case_id})
        assert (ack["state"], ack["topology"]) == ("in_call", "mesh")
        person.peer_id = ack["peer_id"]

    for person in people[:4]:
        await enter(person)
    await enter(people[4])
    expected = {"case_id": case_id, "notice": "sfu_needed", "video_participants": 5, "limit": 4}
    for told in (chair, secretary):
        await told.who.until(partial(told.heard, "call:notice"))
        assert told.got("call:notice") == [expected]
    # The sixth is announced after any notice would have been sent: none is.
    await enter(people[5])
    joined = partial(
        lambda: people[5].peer_id in [n["peer"]["peer_id"] for n in chair.got("call:peer_joined")]
    )
    await chair.who.until(joined)
    assert len(chair.got("call:notice")) == 1
    assert not member.heard("call:notice")
