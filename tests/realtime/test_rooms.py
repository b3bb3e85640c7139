"""Case rooms: who may join, what a join replays, live events, notes and presence."""

from __future__ import annotations

import asyncio

from tests.support.api import call
from tests.support.cases import requested_case
from tests.support.participants import participant
from tests.support.server import RunningServer


async def test_join_replays_the_log_and_lists_who_is_present(server: RunningServer) -> None:
    case_id = await requested_case(server)
    chair = await participant(server, "gs.chutoa")
    doctor = await participant(server, "bs.namcan")

    ack = await chair.join(case_id)
    assert ack["ok"] is True
    assert ack["last_seq"] == 1
    assert [(e["seq"], e["type"]) for e in ack["events"]] == [(1, "case.created")]
    assert [(p["user"]["username"], p["role"]) for p in ack["peers"]] == [("gs.chutoa", "chair")]

    ack = await doctor.join(case_id, after_seq=1)
    assert ack["events"] == []
    roles = sorted((p["user"]["username"], p["role"]) for p in ack["peers"])
    assert roles == [("bs.namcan", "requester"), ("gs.chutoa", "chair")]
    # The chair hears that the doctor came in.
    await chair.until(lambda: len(chair.presence) == 1)
    assert sorted(p["user"]["username"] for p in chair.presence[0]["peers"]) == [
        "bs.namcan",
        "gs.chutoa",
    ]
    peer_ids = {p["peer_id"] for p in ack["peers"]}
    assert len(peer_ids) == 2
    assert all(len(p) >= 16 for p in peer_ids)


async def test_join_is_refused_like_a_missing_case_for_other_facilities_and_councils(
    server: RunningServer,
) -> None:
    case_id = await requested_case(server)
    other_facility = await participant(server, "bs.uminh")
    other_council = await participant(server, "gs.thankinh")

    missing = await other_facility.join(999_999)
    assert missing["ok"] is False
    assert missing["error"]["code"] == "not_found"
    assert await other_facility.join(case_id) == missing
    assert await other_council.join(case_id) == missing
    # Refused sockets are not in the room: a note posted there does not reach them.
    chair = await participant(server, "gs.chutoa")
    await chair.join(case_id)
    assert (await chair.note(case_id, "Đề nghị chụp CT sọ não."))["ok"] is True
    await chair.until(lambda: chair.seqs(case_id) == [1, 2])
    assert other_facility.log == []
    assert other_council.log == []


async def test_every_member_receives_every_event_in_order(server: RunningServer) -> None:
    case_id = await requested_case(server)
    people = [
        await participant(server, name)
        for name in ("bs.namcan", "gs.chutoa", "ts.thuky", "gs.timmach")
    ]
    for who in people:
        assert (await who.join(case_id))["ok"] is True

    async def post(who_index: int, count: int) -> None:
        for n in range(count):
            ack = await people[who_index].note(case_id, f"Ý kiến {who_index}-{n}")
            assert ack["ok"] is True, ack

    await asyncio.gather(post(0, 8), post(1, 8), post(3, 8))
    expected = list(range(1, 26))
    for who in people:
        await who.until_events(case_id, 25)
        assert who.seqs(case_id) == expected

    # What arrived live is exactly what the log holds.
    doctor = people[0].signed
    assert doctor is not None
    stored = await call(doctor, "GET", f"/api/v1/cases/{case_id}/events")
    for who in people:
        assert who.log == stored["events"]


async def test_a_retried_note_is_stored_once_and_acked_with_the_same_seq(
    server: RunningServer,
) -> None:
    case_id = await requested_case(server)
    member = await participant(server, "gs.timmach")
    await member.join(case_id)

    first = await member.note(case_id, "ST chênh lên: nghĩ nhồi máu thành dưới.", "n-1")
    again = await member.note(case_id, "ST chênh lên: nghĩ nhồi máu thành dưới.", "n-1")
    assert first["ok"] is True
    assert again["ok"] is True
    assert again["seq"] == first["seq"] == 2
    assert again["note_id"] == first["note_id"]
    other = await member.note(case_id, "Cần men tim lặp lại.", "n-2")
    assert other["seq"] == 3
    await member.until(lambda: member.seqs(case_id) == [1, 2, 3])

    signed = member.signed
    assert signed is not None
    board = await call(signed, "GET", f"/api/v1/cases/{case_id}")
    assert [n["seq"] for n in board["notes"]] == [2, 3]


async def test_presence_follows_joins_leaves_and_drops(server: RunningServer) -> None:
    case_id = await requested_case(server)
    chair = await participant(server, "gs.chutoa")
    member = await participant(server, "gs.timmach")
    secretary = await participant(server, "ts.thuky")
    await chair.join(case_id)
    await member.join(case_id)
    await secretary.join(case_id)

    def names() -> list[str]:
        return sorted(p["user"]["username"] for p in chair.presence[-1]["peers"])

    await chair.until(lambda: bool(chair.presence) and len(names()) == 3)
    assert (await member.request("case:leave", {"case_id": case_id})) == {"ok": True}
    await chair.until(lambda: names() == ["gs.chutoa", "ts.thuky"])
    await secretary.close()
    await chair.until(lambda: names() == ["gs.chutoa"])
    # Who left gets no more events.
    await chair.note(case_id, "Tiếp tục theo dõi.")
    await chair.until(lambda: chair.seqs(case_id) == [1, 2])
    assert member.seqs(case_id) == [1]


async def test_live_events_cover_changes_made_over_http(server: RunningServer) -> None:
    case_id = await requested_case(server)
    chair = await participant(server, "gs.chutoa")
    await chair.join(case_id)
    assert chair.signed is not None
    await call(chair.signed, "POST", f"/api/v1/cases/{case_id}/transitions", {"action": "accept"})
    await chair.until(lambda: chair.seqs(case_id) == [1, 2])
    assert chair.log[-1]["type"] == "case.accepted"
    assert chair.log[-1]["actor"]["username"] == "gs.chutoa"
