"""Written consultations: the council answers on the board, no session and no call; a case
moves between writing and a live session keeping everything written; a signature waits for
every member's opinion or the chair's closing of the round."""

from __future__ import annotations

from functools import partial
from typing import Any

import pytest

from tests.cases.test_minutes_pdf import pdf_of, text_of
from tests.support.api import call, step_up
from tests.support.cases import DRAFT, SESSION_AT, act, council_case, create_case
from tests.support.documents import TextOf, get
from tests.support.participants import Participant, participant
from tests.support.server import RunningServer, SignedIn

Json = dict[str, Any]
ANSWER_BY = "2026-01-03T17:00:00+07:00"  # two days after the manual clock's start
THIRD = "bs.hohap"  # a third council member besides the secretary and gs.timmach
THIRD_PASSWORD = "Hô hấp ký tên 2026!"


async def seat_third_member(server: RunningServer) -> None:
    admin = await server.sign_in("kiemtra")
    user = {
        "username": THIRD,
        "full_name": "PGS. Võ Hô Hấp",
        "role": "council_member",
        "password": THIRD_PASSWORD,
        "council": "HDCM-MIENNAM",
        "council_role": "member",
        "specialty": "Hô hấp",
    }
    await call(admin, "POST", "/api/v1/admin/users", user, expect=201)


async def opine(who: SignedIn, case_id: int, stance: str = "concur", reason: str = "") -> Json:
    body = {"version": 1, "stance": stance, "reason": reason}
    answer: Json = await call(who, "POST", f"/api/v1/cases/{case_id}/decision/opinions", body)
    return answer


def asked_for_opinion(who: Participant) -> bool:
    return any(n["kind"] == "opinion.requested" for n in who.notices)


def types(who: Participant, case_id: int) -> list[str]:
    return [e["type"] for e in who.log if e["case_id"] == case_id]


async def test_a_written_consultation_from_request_to_signed_decision_without_a_call(
    server: RunningServer,
) -> None:
    await seat_third_member(server)
    doctor = await server.sign_in("bs.namcan")
    case_id = int((await create_case(doctor))["id"])
    base = f"/api/v1/cases/{case_id}"
    room = [await participant(server, name) for name in ("bs.namcan", "gs.chutoa", "gs.timmach")]
    room.append(await participant(server, THIRD, THIRD_PASSWORD))
    watcher, chair_socket, member_socket, third_socket = room
    try:
        for who in room:
            assert (await who.join(case_id))["ok"]
        chair = await server.sign_in("gs.chutoa")
        accepted = await act(chair, case_id, "accept_written", answer_by=ANSWER_BY)
        assert (accepted["status"], accepted["mode"]) == ("accepted", "written")
        assert accepted["answer_by"] == "2026-01-03T10:00:00+00:00"
        # Every member is asked for an opinion, with the deadline; the doctor learns it.
        for who in (member_socket, third_socket, chair_socket):
            await who.until(partial(asked_for_opinion, who))
        asked = next(n for n in third_socket.notices if n["kind"] == "opinion.requested")
        assert (asked["case_id"], asked["answer_by"]) == (case_id, accepted["answer_by"])
        await watcher.until(lambda: any(n["kind"] == "case.accepted" for n in watcher.notices))
        assert not any(n["kind"] == "opinion.requested" for n in watcher.notices)

        await call(chair, "PUT", base + "/decision/draft", DRAFT)
        assert (await member_socket.note(case_id, "ECG: ST chênh lên DII, DIII, aVF."))["ok"]
        members = {name: await server.sign_in(name) for name in ("ts.thuky", "gs.timmach")}
        members[THIRD] = await server.sign_in(THIRD, THIRD_PASSWORD)
        await opine(members["gs.timmach"], case_id)
        await opine(members["ts.thuky"], case_id, "dissent", "Nên chụp mạch vành trước.")

        actions = await call(chair, "GET", base + "/actions")
        assert "sign_decision" not in actions["allowed_actions"]
        assert actions["mode"] == "written"
        awaiting = actions["written_round"]["awaiting"]
        assert {a["username"] for a in awaiting} == {"gs.chutoa", THIRD}

        await opine(members[THIRD], case_id)
        actions = await call(chair, "GET", base + "/actions")
        assert "sign_decision" in actions["allowed_actions"]
        await step_up(chair)
        signed = await call(chair, "POST", base + "/decision/sign", {"version": 1})
        answered = {o["user"]["username"]: o["stance"] for o in signed["opinions"]}
        assert answered == {"gs.timmach": "concur", "ts.thuky": "dissent", THIRD: "concur"}

        await watcher.until(lambda: "case.decided" in types(watcher, case_id))
        decided = next(e for e in watcher.log if e["type"] == "case.decided")
        assert (decided["data"]["from"], decided["data"]["to"]) == ("accepted", "decided")
        # Nobody was in a call: the case never had a session.
        assert not {t for t in types(watcher, case_id) if t.startswith(("call.", "recording."))}
        assert "case.session_started" not in types(watcher, case_id)
        board = await call(doctor, "GET", base)
        assert (board["status"], board["mode"], board["scheduled_at"]) == (
            "decided",
            "written",
            None,
        )

        body, _ = await get(doctor, base + "/minutes")
        text = TextOf.of(body.decode())
        assert "Hình thức hội chẩn Hội chẩn bằng văn bản" in text
        assert "hội chẩn trực tuyến" not in text.lower()
        for name in ("GS.TS. Võ Tâm Mạch", "TS.BS. Phạm Thu Kỳ", "PGS. Võ Hô Hấp"):
            assert name in text.split("Thành viên đã cho ý kiến và thời điểm", 1)[1]
        english, _ = await get(doctor, base + "/minutes?lang=en")
        assert "Form of consultation Written consultation" in TextOf.of(english.decode())
        printed = text_of(await pdf_of(doctor, case_id))
        assert "Hội chẩn bằng văn bản" in printed
        assert "PGS. Võ Hô Hấp" in printed.split("Thành viên đã cho ý kiến", 1)[1]
    finally:
        for who in room:
            await who.close()


async def test_written_to_live_and_live_to_written_keep_every_note_and_opinion(
    server: RunningServer,
) -> None:
    doctor, chair, member, case_id = await council_case(server)
    base = f"/api/v1/cases/{case_id}"
    await act(chair, case_id, "accept_written", answer_by=ANSWER_BY)
    await call(doctor, "POST", base + "/notes", {"body": "Troponin 2,3 ng/mL."}, expect=201)
    await call(chair, "PUT", base + "/decision/draft", DRAFT)
    await opine(member, case_id, "dissent", "Cần siêu âm tim.")
    written = await call(doctor, "GET", base)

    def kept(board: Json) -> Json:
        return {key: board[key] for key in ("notes", "attachments", "decisions")}

    live = await act(chair, case_id, "schedule", scheduled_at=SESSION_AT)
    assert (live["status"], live["mode"]) == ("scheduled", "live")
    assert kept(live) == kept(written)
    await act(chair, case_id, "start_session")
    await call(member, "POST", base + "/notes", {"body": "Đồng ý chuyển."}, expect=201)
    in_session = await call(doctor, "GET", base)

    back = await act(chair, case_id, "continue_in_writing", answer_by=SESSION_AT)
    assert (back["status"], back["mode"], back["scheduled_at"]) == ("accepted", "written", None)
    assert back["round_closed_at"] is None
    assert kept(back) == kept(in_session)
    assert [n["body"] for n in back["notes"]] == ["Troponin 2,3 ng/mL.", "Đồng ý chuyển."]
    [draft] = back["decisions"]
    assert [(o["user"]["username"], o["stance"]) for o in draft["opinions"]] == [
        ("gs.timmach", "dissent")
    ]
    events = (await call(chair, "GET", base + "/events"))["events"]
    switches = [(e["type"], e["data"].get("mode")) for e in events if e["type"].startswith("case.")]
    assert switches == [
        ("case.created", None),
        ("case.accepted", "written"),
        ("case.scheduled", "live"),
        ("case.session_started", None),
        ("case.continued_in_writing", "written"),
    ]
    # Live again from writing, and the page knows it.
    again = await act(chair, case_id, "schedule", scheduled_at=SESSION_AT)
    assert (again["mode"], kept(again)) == ("live", kept(back))
    assert (await call(member, "GET", base + "/actions"))["written_round"] is None


async def test_a_signature_without_every_opinion_and_an_open_round_is_refused(
    server: RunningServer,
) -> None:
    doctor, chair, member, case_id = await council_case(server)
    base = f"/api/v1/cases/{case_id}"
    await act(chair, case_id, "accept_written", answer_by=ANSWER_BY)
    await call(chair, "PUT", base + "/decision/draft", DRAFT)
    await opine(member, case_id)

    await step_up(chair)
    refused = await call(chair, "POST", base + "/decision/sign", {"version": 1}, expect=409)
    error = refused["error"]
    assert error["code"] == "conflict"
    assert error["awaiting"] == ["ts.thuky"]
    assert "TS.BS. Phạm Thu Kỳ" in error["message"]
    assert "close the round" in error["message"]
    assert (await call(doctor, "GET", base))["status"] == "accepted"

    closed = await act(chair, case_id, "close_round")
    assert closed["round_closed_at"] is not None
    again = await call(chair, "POST", base + "/transitions", {"action": "close_round"}, 409)
    assert again["error"]["message"] == "The written round is already closed."
    await step_up(chair)
    signed = await call(chair, "POST", base + "/decision/sign", {"version": 1})
    assert [o["user"]["username"] for o in signed["opinions"]] == ["gs.timmach"]


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"action": "accept_written"}, 422, "answer_by"),
        ({"action": "accept_written", "answer_by": "2025-12-01T09:00:00+07:00"}, 422, "answer_by"),
    ],
)
async def test_a_written_round_needs_a_deadline_ahead(
    server: RunningServer, body: Json, status: int, field: str
) -> None:
    doctor, chair = await server.sign_in("bs.namcan"), await server.sign_in("gs.chutoa")
    case_id = int((await create_case(doctor))["id"])
    refused = await call(chair, "POST", f"/api/v1/cases/{case_id}/transitions", body, status)
    assert [f["field"] for f in refused["error"]["fields"]] == [field]


async def test_the_mode_decides_which_switch_and_round_actions_apply(
    server: RunningServer,
) -> None:
    doctor, chair = await server.sign_in("bs.namcan"), await server.sign_in("gs.chutoa")
    live = int((await create_case(doctor))["id"])
    await act(chair, live, "accept")
    assert (await call(doctor, "GET", f"/api/v1/cases/{live}"))["mode"] == "live"
    path = f"/api/v1/cases/{live}/transitions"
    refused = await call(chair, "POST", path, {"action": "close_round"}, 409)
    assert refused["error"]["message"] == "Only a written consultation has a round to close."
    # Without a session, a live case cannot be signed.
    await call(chair, "PUT", f"/api/v1/cases/{live}/decision/draft", DRAFT)
    await step_up(chair)
    early = await call(chair, "POST", f"/api/v1/cases/{live}/decision/sign", {"version": 1}, 409)
    assert "awaiting" not in early["error"]
    await act(chair, live, "continue_in_writing", answer_by=ANSWER_BY)
    twice = {"action": "continue_in_writing", "answer_by": ANSWER_BY}
    refused = await call(chair, "POST", path, twice, 409)
    assert refused["error"]["message"] == "The case is already consulted in writing."
    # The doctor may not take council actions, whatever the mode.
    await call(doctor, "POST", path, {"action": "close_round"}, 403)
