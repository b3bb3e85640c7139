"""Guest specialists: a one-time invitation link to one case's room and call, through the
real HTTP API, real Socket.IO clients and real aiortc peers."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import pytest
import socketio

from telemed.clock import ManualClock
from tests.support.api import call
from tests.support.attachments import dicom_bytes, png_bytes, upload
from tests.support.callers import Caller, caller
from tests.support.cases import create_case, in_session_case, to_scheduled
from tests.support.guests import INVITE, guest_from, guest_socket, invite, redeem, token_of
from tests.support.participants import Participant
from tests.support.server import RunningServer


@pytest.fixture
def settings(make_settings: Callable[..., Any]) -> Any:
    return make_settings(socket_rate_per_second=1000, socket_burst=1000)


async def test_only_the_chair_or_secretary_invites_and_nobody_sees_another_councils_invite(
    server: RunningServer,
) -> None:
    case_id, chair = await in_session_case(server)
    secretary = await server.sign_in("ts.thuky")

    made = await invite(chair, case_id)
    assert set(made) == {"url", "expires_at"}
    assert made["url"].startswith(server.url + "/join/")
    assert made["expires_at"] == "2026-01-02T08:00:00+00:00"  # a day by default
    assert (await invite(secretary, case_id, expires_in=3600))["url"] != made["url"]

    for username, status in (
        ("bs.namcan", 403),  # the requesting doctor sees the case but may not invite
        ("gs.timmach", 403),  # a council member likewise
        ("bs.uminh", 404),  # another facility does not see the case at all
        ("gs.thankinh", 404),  # another council likewise
    ):
        refused = await invite(await server.sign_in(username), case_id, expect=status)
        assert refused["error"]["code"] == ("forbidden" if status == 403 else "not_found")
    bad = await invite(chair, case_id, expect=422, expires_in=7 * 24 * 3600 + 1)
    assert bad["error"]["code"] == "validation_error"
    # A case not yet accepted has no session to invite to.
    requested = int((await create_case(await server.sign_in("bs.namcan")))["id"])
    assert (await invite(chair, requested, expect=409))["error"]["status"] == "requested"


async def test_a_guest_waits_in_the_lobby_is_admitted_and_exchanges_media_with_the_council(
    server: RunningServer, callers: list[Caller]
) -> None:
    case_id, chair_http = await in_session_case(server)
    chair = await caller(server, callers, "gs.chutoa", case_id, 660)
    member = await caller(server, callers, "gs.timmach", case_id, 880)
    assert (await chair.join_call())["state"] == "in_call"
    assert (await member.join_call())["state"] == "in_call"

    guest = await guest_from(server, await invite(chair_http, case_id))
    assert guest.case_id == case_id
    assert guest.user["full_name"] == INVITE["name"]
    who = await guest_socket(server, guest)
    joined = await who.join(case_id)
    assert joined["ok"] is True, joined
    roles = {p["user"]["full_name"]: p["role"] for p in joined["peers"]}
    assert roles[INVITE["name"]] == "guest"
    callers.append(Caller(who, case_id, 550))
    visitor = callers[-1]

    # Even though the session is running, a guest waits to be admitted.
    assert (await visitor.join_call())["state"] == "lobby"
    await chair.who.until(lambda: any(n["waiting"] for n in chair.got("call:lobby")))
    lobby = [n for n in chair.got("call:lobby") if n["waiting"]][-1]
    assert [(p["peer_id"], p["role"]) for p in lobby["waiting"]] == [(visitor.peer_id, "guest")]
    assert lobby["waiting"][0]["user"]["full_name"] == INVITE["name"]
    # Waiting in the lobby is not being in the call.
    stranger_signal = {"case_id": case_id, "to": chair.peer_id, "data": {"candidate": {}}}
    assert (await who.request("rtc:signal", stranger_signal))["error"]["code"] == "forbidden"
    # Only the chair or secretary admits.
    admit = {"case_id": case_id, "peer_id": visitor.peer_id}
    assert (await member.who.request("call:admit", admit))["error"]["code"] == "forbidden"

    assert (await chair.who.request("call:admit", admit))["ok"] is True
    await visitor.who.until(partial(visitor.heard, "call:admitted"))
    await visitor.who.until(lambda: visitor.received_from(member.peer_id, 10))
    await member.who.until(lambda: member.received_from(visitor.peer_id, 10))
    await visitor.who.until(lambda: visitor.received_from(chair.peer_id, 10))
    assert visitor.pcs[member.peer_id].connectionState == "connected"
    assert chair.got("call:lobby")[-1]["waiting"] == []

    # The invitation, the guest's room and call joins are in the case's log.
    log = await call(chair_http, "GET", f"/api/v1/cases/{case_id}/events?limit=200")
    invited = [e for e in log["events"] if e["type"] == "guest.invited"]
    assert len(invited) == 1
    assert invited[0]["data"]["guest"]["name"] == INVITE["name"]
    assert invited[0]["actor"]["username"] == "gs.chutoa"
    joins = [e for e in log["events"] if e["type"] == "call.join"]
    guest_join = [e for e in joins if e["data"]["peer_id"] == visitor.peer_id]
    assert len(guest_join) == 1
    assert guest_join[0]["data"]["guest"]["full_name"] == INVITE["name"]


async def test_a_link_works_once_and_not_after_it_expires(
    server: RunningServer, clock: ManualClock
) -> None:
    case_id, chair = await in_session_case(server)
    token = token_of(await invite(chair, case_id))
    assert (await redeem(server, token))[0] == 200
    status, again = await redeem(server, token)
    assert (status, again["error"]["code"]) == (404, "not_found")

    # Opening the link (a HEAD from a mail scanner or a chat preview, the guest's GET)
    # changes nothing; the page's Join button posts the token, which spends it.
    link = token_of(await invite(chair, case_id))
    browser = server.http()
    for method in ("HEAD", "GET", "HEAD", "GET"):
        async with browser.request(method, f"/join/{link}", allow_redirects=False) as response:
            assert response.status == 200, method
            assert response.headers["Referrer-Policy"] == "no-referrer"
            assert "telemed_session" not in response.cookies
            page = await response.text()
    assert 'data-testid="join-submit"' in page
    async with browser.post("/api/v1/guests/redeem", json={"token": link}) as response:
        assert response.status == 200
        assert "telemed_session" in response.cookies
    async with browser.get("/api/v1/me") as response:
        me = await response.json()
        assert (response.status, me["user"]["role"]) == (200, "guest")
    assert (await redeem(server, link))[0] == 404

    # Ten minutes, and eleven minutes later.
    late = token_of(await invite(chair, case_id, expires_in=600))
    clock.advance(601)
    assert (await redeem(server, late))[0] == 404
    assert (await redeem(server, "x" * 43))[0] == 404


async def test_a_link_is_redeemed_from_this_sites_pages_only(server: RunningServer) -> None:
    case_id, chair = await in_session_case(server)
    token = token_of(await invite(chair, case_id))
    http = server.http()
    for origin in ("https://evil.example", "null"):
        async with http.post(
            "/api/v1/guests/redeem", json={"token": token}, headers={"Origin": origin}
        ) as response:
            assert response.status == 403
            assert "telemed_session" not in response.cookies
    async with http.post(
        "/api/v1/guests/redeem", json={"token": token}, headers={"Origin": server.url}
    ) as response:
        assert response.status == 200  # the refusals did not spend the link


async def test_a_guest_is_a_stranger_to_everything_but_the_one_case(
    server: RunningServer,
) -> None:
    case_id, chair = await in_session_case(server)
    doctor = await server.sign_in("bs.namcan")
    other_case = int((await create_case(doctor))["id"])
    scan = await upload(doctor, case_id, dicom_bytes(), "ct.dcm")
    elsewhere = await upload(doctor, other_case, png_bytes(), "anh.png")
    guest = await guest_from(server, await invite(chair, case_id))

    # The imaging of the case they were invited to is theirs to read, file and preview.
    files = f"/api/v1/cases/{case_id}/attachments/{scan['id']}"
    assert await guest.status("GET", files) == 200
    assert await guest.status("GET", files + "/preview") == 200

    # Their case's board, as its room loads it: the same content the room replays.
    board = await guest.json("GET", f"/api/v1/cases/{case_id}")
    assert (board["id"], board["clinical"]) == (case_id, True)
    assert "identity" not in board
    for own in ("/notes", "/events?before=3"):
        assert await guest.status("GET", f"/api/v1/cases/{case_id}{own}") == 200, own

    for path in (
        f"/api/v1/cases/{case_id}/identity",
        f"/api/v1/cases/{case_id}/minutes",
        f"/api/v1/cases/{other_case}",
        f"/api/v1/cases/{other_case}/minutes",
        f"/api/v1/cases/{other_case}/events",
        f"/api/v1/cases/{other_case}/attachments/{elsewhere['id']}",
        f"/api/v1/cases/{case_id}/attachments/{elsewhere['id']}",  # not of their case
        "/api/v1/cases",
        "/api/v1/cases?status=in_session",
    ):
        assert await guest.status("GET", path) == 404, path
    assert await guest.status("POST", f"/api/v1/cases/{case_id}/invites", INVITE) in (403, 404)
    assert await guest.status("GET", "/api/v1/audit") == 403

    who = await guest_socket(server, guest)
    try:
        refused = await who.join(other_case)
        assert refused["error"]["code"] == "not_found"
        assert (await who.join(case_id))["ok"] is True
        note = await who.note(other_case, "hello")
        assert note["error"]["code"] == "not_found"
    finally:
        await who.close()


async def test_the_invitation_and_its_use_are_audited_and_logging_out_ends_the_guest_session(
    server: RunningServer,
) -> None:
    case_id, chair = await in_session_case(server)
    invitation = await invite(chair, case_id)
    guest = await guest_from(server, invitation)
    assert (await redeem(server, token_of(invitation)))[0] == 404
    who = await guest_socket(server, guest)
    assert (await who.join(case_id))["ok"] is True

    assert await guest.status("POST", "/api/v1/auth/logout") == 200
    assert await guest.status("GET", "/api/v1/me") == 401
    await who.until(lambda: not who.client.connected)
    refused = Participant("guest", guest.token, server.url, server.socket())
    with pytest.raises(socketio.exceptions.ConnectionError):
        await refused.connect()

    auditor = await server.sign_in("kiemtra")
    rows = await call(auditor, "GET", f"/api/v1/audit?case_id={case_id}&limit=500")
    actions = [(r["action"], r["outcome"]) for r in rows["items"]]
    assert ("guest.invite", "success") in actions
    assert ("guest.redeem", "success") in actions
    assert ("guest.redeem", "denied") in actions  # the second use of the link
    invited = next(r for r in rows["items"] if r["action"] == "guest.invite")
    assert invited["actor"]["username"] == "gs.chutoa"
    # The guest's own actions are on record under the guest's name (no account id).
    name = guest.user["username"]
    mine = await call(auditor, "GET", f"/api/v1/audit?actor={name}&limit=500")
    assert {(r["action"], r["outcome"]) for r in mine["items"]} >= {
        ("guest.redeem", "success"),
        ("room.join", "success"),
        ("auth.logout", "success"),
    }
    assert {r["actor"]["id"] for r in mine["items"]} == {guest.user["id"]}


async def test_a_guest_who_came_early_still_waits_for_the_chair_when_the_session_starts(
    server: RunningServer, callers: list[Caller]
) -> None:
    doctor_http, chair_http = await server.sign_in("bs.namcan"), await server.sign_in("gs.chutoa")
    case_id = int((await create_case(doctor_http))["id"])
    await to_scheduled(chair_http, case_id)
    guest = await guest_from(server, await invite(chair_http, case_id))
    visitor = Caller(await guest_socket(server, guest), case_id, 550)
    callers.append(visitor)
    assert (await visitor.who.join(case_id))["ok"] is True
    early = await visitor.join_call()
    assert (early["state"], early["peers_in_call"]) == ("lobby", [])
    doctor = await caller(server, callers, "bs.namcan", case_id, 440)
    assert (await doctor.join_call())["state"] == "lobby"
    chair = await caller(server, callers, "gs.chutoa", case_id, 660)

    assert (await chair.who.request("call:start", {"case_id": case_id}))["ok"] is True
    # The doctor enters with the session; the guest waits until the chair admits it.
    await doctor.who.until(partial(doctor.heard, "call:admitted"))

    def waiting() -> list[str]:
        notices = chair.got("call:lobby")
        return [p["peer_id"] for p in notices[-1]["waiting"]] if notices else []

    await chair.who.until(lambda: waiting() == [visitor.peer_id])
    assert not visitor.heard("call:admitted")
    admit = {"case_id": case_id, "peer_id": visitor.peer_id}
    assert (await chair.who.request("call:admit", admit))["ok"] is True
    await visitor.who.until(partial(visitor.heard, "call:admitted"))
    await visitor.who.until(lambda: visitor.received_from(doctor.peer_id, 5))


async def test_the_chair_sees_who_is_invited_and_a_revoked_link_or_session_stops_working(
    server: RunningServer, clock: ManualClock
) -> None:
    case_id, chair = await in_session_case(server)
    base = f"/api/v1/cases/{case_id}/invites"
    pending = await invite(chair, case_id, name="BS. Chờ")
    used = await invite(chair, case_id, name="BS. Đã vào")
    late = await invite(chair, case_id, name="BS. Quá hạn", expires_in=60)
    guest = await guest_from(server, used)
    assert await guest.status("GET", f"/api/v1/cases/{case_id}/actions") == 200
    clock.advance(61)
    listed = (await call(chair, "GET", base))["items"]
    assert [(i["name"], i["state"]) for i in listed] == [
        ("BS. Chờ", "pending"),
        ("BS. Đã vào", "used"),
        ("BS. Quá hạn", "expired"),
    ]
    assert all("url" not in i and "token" not in str(i) for i in listed)
    del late

    # The secretary lists too; a member, the doctor 403; another council 404, as missing.
    await call(await server.sign_in("ts.thuky"), "GET", base)
    for name, status in (("gs.timmach", 403), ("bs.namcan", 403), ("gs.thankinh", 404)):
        await call(await server.sign_in(name), "GET", base, expect=status)
        await call(await server.sign_in(name), "DELETE", f"{base}/{listed[0]['id']}", None, status)

    revoked = await call(chair, "DELETE", f"{base}/{listed[0]['id']}")
    assert revoked["state"] == "revoked"
    assert (await redeem(server, token_of(pending)))[0] == 404
    await call(chair, "DELETE", f"{base}/{listed[1]['id']}")
    assert await guest.status("GET", f"/api/v1/cases/{case_id}/actions") == 401
    await call(chair, "DELETE", f"{base}/{listed[1]['id']}")  # again: nothing more happens
    await call(chair, "DELETE", f"{base}/999999", None, 404)

    events = (await call(chair, "GET", f"/api/v1/cases/{case_id}/events"))["events"]
    gone = [e["data"]["guest"]["name"] for e in events if e["type"] == "guest.revoked"]
    assert gone == ["BS. Chờ", "BS. Đã vào"]
    states = [i["state"] for i in (await call(chair, "GET", base))["items"]]
    assert states == ["revoked", "revoked", "expired"]
