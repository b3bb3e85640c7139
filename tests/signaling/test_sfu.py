"""Calls through the SFU: a real Janus (in a network namespace, started with the
configuration Telemed generates), real aiortc participants that negotiate only through
Telemed's ``rtc:signal``, and the bridge in between.

The participants run on this host and reach Janus over the namespace's link: Janus's ICE
never uses the loopback interface.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import av
import pytest

from telemed import appkeys
from telemed.audit.service import local_operator
from telemed.clock import ManualClock
from telemed.shapes import Json
from telemed.signaling.janus.client import Janus
from telemed.signaling.janus.transport import JanusHttp
from tests.signaling.coturn import relay_configuration, running_coturn
from tests.support.api import call, step_up
from tests.support.callers import Caller, caller, in_call
from tests.support.cases import DRAFT, in_session_case
from tests.support.janus import RunningJanus
from tests.support.media import RATE, tone_power
from tests.support.participants import participant
from tests.support.server import RunningServer, running
from tests.support.services import require_binary

pytestmark = [pytest.mark.janus, pytest.mark.slow, pytest.mark.xdist_group("janus")]

FRAMES = 10
# Six aiortc peers in one process share a machine with other work: give them time (a
# limit on waiting, not a speed requirement).
WAIT = 60.0
RECORD_SECONDS = 6.0
# The tones in_sfu_call gives its first three participants.
TONES = [300, 410, 520]


@pytest.fixture
def backend() -> str:
    return "sqlite"  # the media path is the subject here, not the database


@pytest.fixture
def settings(make_settings: Callable[..., Any], janus: RunningJanus) -> Any:
    # Six peers negotiating at once send more than a browser's share of messages.
    return make_settings(
        janus_url=[janus.url],
        janus_api_secret=janus.api_secret,
        janus_admin_key=janus.admin_key,
        socket_rate_per_second=1000,
        socket_burst=1000,
        # Removal from a council is noticed by the periodic check: keep it short here.
        socket_revalidate_seconds=0.3,
    )


@pytest.fixture
async def janus_api(janus: RunningJanus) -> AsyncIterator[Janus]:
    """Janus as an operator sees it, to check what the bridge did there."""
    client = Janus(JanusHttp(janus.url, janus.api_secret))
    yield client
    await client.close()


async def _nothing(_event: Json) -> None:
    return None


async def publishers(janus_api: Janus, room: int) -> list[str]:
    """The display names (Telemed's peer ids) of the room's active publishers."""
    session = await janus_api.session()
    try:
        handle = await session.attach(_nothing)
        listed = await handle.request({"request": "listparticipants", "room": room})
    finally:
        await session.destroy()
    return sorted(p["display"] for p in listed.data["participants"] if p.get("publisher"))


async def everyone_hears_and_sees_everyone(people: list[Caller]) -> None:
    for person in people:
        for other in people:
            if other is not person:
                await person.who.until(
                    partial(person.received_through_sfu, other.peer_id, FRAMES), within=WAIT
                )


def sfu_room(server: RunningServer, case_id: int) -> int:
    room = server.app[appkeys.CALLS].sfu.room_id(case_id)
    assert room is not None
    return room


async def test_the_third_participant_moves_the_call_to_the_sfu_without_anyone_leaving(
    server: RunningServer, callers: list[Caller], janus_api: Janus
) -> None:
    case_id, chair_http = await in_session_case(server)
    doctor, chair = await in_call(server, callers, case_id, ("bs.namcan", 440), ("gs.chutoa", 660))
    assert (doctor.topology, chair.topology) == ("mesh", "mesh")
    room = sfu_room(server, case_id)  # made when the session started
    assert await publishers(janus_api, room) == []

    member = await caller(server, callers, "gs.timmach", case_id, 880)
    ack = await member.join_call()
    assert (ack["state"], ack["topology"], ack["epoch"]) == ("in_call", "sfu", 1)
    people = [doctor, chair, member]
    await everyone_hears_and_sees_everyone(people)

    # The two who were in the mesh were told to move, and did: their mesh connections are
    # closed, each publishes once to Janus and receives the two others from it.
    for person in (doctor, chair):
        assert [n["topology"] for n in person.got("call:topology")] == ["sfu"]
        assert all(pc.connectionState == "closed" for pc in person.closed_mesh)
        assert person.pcs == {}
    for person in people:
        assert person.publisher is not None
        assert person.publisher.connectionState == "connected"
        assert not person.heard("call:peer_left")
    expected = sorted(p.peer_id for p in people)
    assert await publishers(janus_api, room) == expected
    log = await call(chair_http, "GET", f"/api/v1/cases/{case_id}/events?limit=200")
    assert [e for e in log["events"] if e["type"] == "call.leave"] == []

    # Leaving drops that participant's handles at once: Janus no longer forwards it.
    assert (await member.who.request("call:leave", {"case_id": case_id}))["ok"] is True
    assert await publishers(janus_api, room) == sorted([doctor.peer_id, chair.peer_id])

    # The session's end destroys the room.
    path = f"/api/v1/cases/{case_id}"
    await call(chair_http, "PUT", path + "/decision/draft", DRAFT)
    await step_up(chair_http)
    await call(chair_http, "POST", path + "/decision/sign", {"version": 1})
    await doctor.who.until(partial(doctor.heard, "call:ended"))
    assert server.app[appkeys.CALLS].sfu.rooms() == 0
    session = await janus_api.session()
    handle = await session.attach(_nothing)
    exists = await handle.request({"request": "exists", "room": room})
    await session.destroy()
    assert exists.data["exists"] is False


async def test_six_participants_each_decode_every_other_through_the_sfu(
    server: RunningServer, callers: list[Caller], janus_api: Janus
) -> None:
    case_id, _chair = await in_session_case(server)
    # The district site, the chair, the secretary, a member, and two more connections (a
    # second room of the district site, the chair's tablet): six peers.
    names = ["bs.namcan", "gs.chutoa", "ts.thuky", "gs.timmach", "bs.namcan", "gs.chutoa"]
    people = [
        await caller(server, callers, name, case_id, 300 + 110 * i) for i, name in enumerate(names)
    ]
    for person in people:
        assert (await person.join_call())["state"] == "in_call"
    await everyone_hears_and_sees_everyone(people)

    for person in people:
        # One connection up, one down, whatever the size of the call.
        assert person.pcs == {}
        assert person.subscriber is not None
        assert len(person.sfu_frames) == 5
        assert person.topology == "sfu"
    room = sfu_room(server, case_id)
    assert await publishers(janus_api, room) == sorted(p.peer_id for p in people)


async def test_sfu_signals_follow_the_call_rules(
    server: RunningServer, callers: list[Caller]
) -> None:
    case_id, _chair = await in_session_case(server)
    doctor, chair = await in_call(server, callers, case_id, ("bs.namcan", 440), ("gs.chutoa", 660))
    offer = {"description": {"type": "offer", "sdp": "v=0\r\n"}}

    async def signal(who: Caller, to: str, data: Json) -> Json:
        return await who.who.request("rtc:signal", {"case_id": case_id, "to": to, "data": data})

    # Two participants: a mesh, and the SFU's peers are not open to them.
    assert (await signal(doctor, "sfu:publish", offer))["error"]["code"] == "conflict"
    # Someone in the room but not in the call may not signal the SFU at all.
    outsider = await caller(server, callers, "gs.timmach", case_id, 880)
    assert (await signal(outsider, "sfu:publish", offer))["error"]["code"] == "forbidden"
    assert (await outsider.join_call())["topology"] == "sfu"
    await everyone_hears_and_sees_everyone([doctor, chair, outsider])
    # Through the SFU: answers only to its offers, offers only to publish.
    answer = {"description": {"type": "answer", "sdp": "v=0\r\n"}}
    assert (await signal(doctor, "sfu:subscribe", answer))["error"]["code"] == "conflict"
    assert (await signal(doctor, "sfu:publish", answer))["error"]["code"] == "conflict"
    bad = await signal(doctor, "sfu:other", offer)
    assert bad["error"]["code"] == "validation_error"


async def in_sfu_call(
    server: RunningServer, made: list[Caller], case_id: int, *names: str
) -> list[Caller]:
    people = [
        await caller(server, made, name, case_id, 300 + 110 * i) for i, name in enumerate(names)
    ]
    for person in people:
        assert (await person.join_call())["state"] == "in_call"
    await everyone_hears_and_sees_everyone(people)
    return people


async def test_a_participant_removed_signed_out_or_dropped_loses_its_handles_at_once(
    server: RunningServer, callers: list[Caller], janus_api: Janus
) -> None:
    case_id, _chair = await in_session_case(server)
    chair, doctor, member, secretary = await in_sfu_call(
        server, callers, case_id, "gs.chutoa", "bs.namcan", "gs.timmach", "ts.thuky"
    )
    room = sfu_room(server, case_id)

    def left(who: Caller) -> bool:
        return [n["peer_id"] for n in chair.got("call:peer_left")].count(who.peer_id) == 1

    # Removed from the council (noticed by the periodic check).
    admin = local_operator("test")  # the CLI's actor
    await server.app[appkeys.ACCOUNT_SERVICE].remove_membership(admin, "gs.timmach", "HDCM-MIENNAM")
    await chair.who.until(partial(left, member))
    assert await publishers(janus_api, room) == sorted(
        [chair.peer_id, doctor.peer_id, secretary.peer_id]
    )
    # Signed out (the session's sockets are disconnected).
    assert secretary.who.signed is not None
    async with secretary.who.signed.http.post(
        "/api/v1/auth/logout", headers=secretary.who.signed.bearer
    ) as response:
        assert response.status == 200
    await chair.who.until(partial(left, secretary))
    assert await publishers(janus_api, room) == sorted([chair.peer_id, doctor.peer_id])
    # The connection drops.
    await doctor.who.client.disconnect()
    await chair.who.until(partial(left, doctor))
    assert await publishers(janus_api, room) == [chair.peer_id]


async def test_a_janus_that_restarts_gives_the_call_a_new_room_and_no_one_leaves(
    server: RunningServer, callers: list[Caller], janus_api: Janus, janus: RunningJanus
) -> None:
    case_id, chair_http = await in_session_case(server)
    people = await in_sfu_call(server, callers, case_id, "bs.namcan", "gs.chutoa", "gs.timmach")
    first_room = sfu_room(server, case_id)
    await asyncio.to_thread(janus.restart)  # every session and room on it is gone

    # The bridge notices, makes a new room, and everyone publishes again (epoch 2).
    def republished(person: Caller) -> bool:
        return person.epoch == 2

    for person in people:
        await person.who.until(partial(republished, person), within=60)
    for person in people:
        person.sfu_frames.clear()
    await everyone_hears_and_sees_everyone(people)
    room = sfu_room(server, case_id)
    assert room != first_room
    assert await publishers(janus_api, room) == sorted(p.peer_id for p in people)
    log = await call(chair_http, "GET", f"/api/v1/cases/{case_id}/events?limit=200")
    assert [e for e in log["events"] if e["type"] == "call.leave"] == []


def tones_by_stream(path: Path) -> list[int]:
    """For each audio stream of ``path``, the test tone that dominates it."""
    found = []
    with av.open(str(path)) as container:
        count = len(container.streams.audio)
    for index in range(count):
        resampler = av.AudioResampler(format="s16", layout="mono", rate=RATE)
        pcm = bytearray()
        with av.open(str(path)) as container:
            for frame in container.decode(audio=index):
                for out in resampler.resample(frame):
                    pcm += bytes(out.planes[0])[: out.samples * 2]
        middle = max(0, len(pcm) // 4 - RATE // 2)
        found.append(max(TONES, key=lambda tone: tone_power(bytes(pcm), tone, middle)))
    return sorted(found)


async def test_a_call_through_the_sfu_is_recorded_by_janus_and_attached(
    server: RunningServer, callers: list[Caller], tmp_path: Path
) -> None:
    case_id, _chair = await in_session_case(server)
    doctor, chair, member = await in_sfu_call(
        server, callers, case_id, "bs.namcan", "gs.chutoa", "gs.timmach"
    )
    for person in (doctor, chair, member):
        ack = await person.who.request("rec:consent", {"case_id": case_id, "consent": True})
        assert ack["ok"] is True
    began = time.monotonic()
    started = await chair.who.request("rec:start", {"case_id": case_id})
    assert started["ok"] is True, started
    assert sorted(started["recorded"]) == sorted(p.peer_id for p in (doctor, chair, member))
    # Nobody is asked to open a connection to the recorder: Janus has their media.
    assert server.app[appkeys.CALLS].peers.connections() == []
    await asyncio.sleep(RECORD_SECONDS - (time.monotonic() - began))
    recorded = time.monotonic() - began
    stopped = await chair.who.request("rec:stop", {"case_id": case_id})
    assert stopped["ok"] is True, stopped
    attachment = stopped["attachment"]
    assert attachment["kind"] == "recording"
    assert not any(person.recorder_pc for person in (doctor, chair, member))

    assert doctor.who.signed is not None
    path = f"/api/v1/cases/{case_id}/attachments/{attachment['id']}"
    async with doctor.who.signed.http.get(path, headers=doctor.who.signed.bearer) as response:
        assert response.status == 200
        data = await response.read()
    assert hashlib.sha256(data).hexdigest() == attachment["sha256"]
    downloaded = tmp_path / "recording.mkv"
    downloaded.write_bytes(data)
    with av.open(str(downloaded)) as container:
        # Each consenting voice in its own track; the requesting site's video only.
        assert len(container.streams.audio) == 3
        assert len(container.streams.video) == 1
        duration = (container.duration or 0) / av.time_base
        video_frames = sum(1 for _ in container.decode(video=0))
    assert video_frames > 0
    assert abs(duration - recorded) <= 0.1 * recorded, (duration, recorded)
    assert tones_by_stream(downloaded) == sorted(TONES)
    # Janus's raw files are gone once the file is attached.
    assert list((server.settings.data_dir / "recordings").glob("*.mjr")) == []


async def test_a_participant_that_reaches_only_turn_joins_the_sfu_call(
    make_settings: Callable[..., Any],
    janus: RunningJanus,
    callers: list[Caller],
    tmp_path: Path,
) -> None:
    binary = require_binary("turnserver", "coturn")
    # coturn relays from this host's end of Janus's link, so relayed media reaches Janus.
    with running_coturn(binary, tmp_path, relay_ip=janus.host.host_address) as turn:
        settings = make_settings(
            janus_url=[janus.url],
            janus_api_secret=janus.api_secret,
            janus_admin_key=janus.admin_key,
            turn_urls=[turn.url],
            turn_secret=turn.secret,
            socket_rate_per_second=1000,
            socket_burst=1000,
        )
        # coturn checks the credential's expiry against its own (real) clock.
        async with running(settings, ManualClock(datetime.now(UTC))) as server:
            case_id, _chair = await in_session_case(server)
            # The district site's network lets nothing out but to the TURN server.
            who = await participant(server, "bs.namcan")
            config = await who.request("rtc:config", {})
            await who.close()
            relay_only = relay_configuration(config["iceServers"][0])
            doctor = await caller(server, callers, "bs.namcan", case_id, 300, relay_only)
            chair = await caller(server, callers, "gs.chutoa", case_id, 410)
            member = await caller(server, callers, "gs.timmach", case_id, 520)
            for person in (doctor, chair, member):
                assert (await person.join_call())["state"] == "in_call"
            await everyone_hears_and_sees_everyone([doctor, chair, member])
            # Every candidate the district offered Janus was a relay on this coturn.
            for pc in (doctor.publisher, doctor.subscriber):
                assert pc is not None
                local = pc.localDescription.sdp
                candidates = [line for line in local.splitlines() if "candidate:" in line]
                assert candidates
                assert all(" typ relay " in line for line in candidates)
            for person in callers:
                await person.close()
            callers.clear()
