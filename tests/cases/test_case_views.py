"""The case API end to end: request, triage, schedule, session, notes, decision, follow-up."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from telemed.clock import ManualClock
from telemed.settings import Settings
from tests.support.api import call, step_up
from tests.support.audit import audit_rows
from tests.support.cases import DRAFT, NEW_CASE, act, create_case, to_session
from tests.support.server import RunningServer, SignedIn


@pytest.fixture
async def people(server: RunningServer) -> dict[str, SignedIn]:
    return await server.sign_in_all()


async def test_create_returns_the_case_with_its_first_event(people: dict[str, SignedIn]) -> None:
    case = await create_case(people["bs.namcan"])
    assert case["status"] == "requested"
    assert case["last_seq"] == 1
    assert case["questions"] == [
        {"number": 1, "text": NEW_CASE["questions"][0]},
        {"number": 2, "text": NEW_CASE["questions"][1]},
    ]
    assert case["requesting_facility"]["code"] == "TTYT-NAMCAN"
    assert case["council"]["code"] == "HDCM-MIENNAM"
    assert case["patient"] == {"code": "NC-2026-001", "sex": "male", "birth_year": 1958}
    events = await call(people["bs.namcan"], "GET", f"/api/v1/cases/{case['id']}/events")
    assert [e["type"] for e in events["events"]] == ["case.created"]
    assert events["events"][0]["actor"]["username"] == "bs.namcan"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"questions": []}, "questions"),
        ({"urgency": "whenever"}, "urgency"),
        ({"council": "HDCM-NOWHERE"}, "council"),
        ({"patient_birth_year": 1800}, "patient_birth_year"),
        ({"patient_code": "../etc"}, "patient_code"),
        ({"title": ""}, "title"),
        ({"unexpected": 1}, "unexpected"),
    ],
)
async def test_create_refuses_invalid_requests_naming_the_field(
    people: dict[str, SignedIn], change: dict[str, Any], field: str
) -> None:
    body = await call(
        people["bs.namcan"], "POST", "/api/v1/cases", {**NEW_CASE, **change}, expect=422
    )
    assert field in [problem["field"] for problem in body["error"]["fields"]]


@pytest.mark.parametrize("who", ["gs.chutoa", "kiemtra"])
async def test_only_requesting_facility_doctors_open_cases(
    people: dict[str, SignedIn], who: str
) -> None:
    body = await call(people[who], "POST", "/api/v1/cases", NEW_CASE, expect=403)
    assert body["error"]["code"] == "forbidden"


async def test_queue_is_sorted_by_urgency_then_waiting_time_and_paginated(
    people: dict[str, SignedIn], clock: ManualClock
) -> None:
    doctor = people["bs.namcan"]
    made = []
    for urgency in ["routine", "urgent", "emergency", "urgent", "routine"]:
        made.append((await create_case(doctor, urgency=urgency))["id"])
        clock.advance(60)
    expected = [made[2], made[1], made[3], made[0], made[4]]
    seen: list[int] = []
    cursor = None
    while True:
        query = "?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = await call(people["gs.chutoa"], "GET", "/api/v1/cases" + query)
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == expected
    urgent = await call(people["ts.thuky"], "GET", "/api/v1/cases?urgency=urgent")
    assert [item["id"] for item in urgent["items"]] == [made[1], made[3]]
    assert (await call(people["bs.uminh"], "GET", "/api/v1/cases"))["items"] == []
    assert (await call(people["gs.thankinh"], "GET", "/api/v1/cases"))["items"] == []
    admin_items = (await call(people["kiemtra"], "GET", "/api/v1/cases"))["items"]
    assert [item["id"] for item in admin_items] == expected
    assert all("title" not in item and item["clinical"] is False for item in admin_items)
    await call(people["gs.chutoa"], "GET", "/api/v1/cases?cursor=garbage", expect=422)
    await call(people["gs.chutoa"], "GET", "/api/v1/cases?status=lost", expect=422)


async def test_other_facilities_and_councils_get_the_same_404_as_a_missing_case(
    people: dict[str, SignedIn],
) -> None:
    case = await create_case(people["bs.namcan"])
    missing = await call(people["bs.uminh"], "GET", "/api/v1/cases/999999", expect=404)
    for who in ["bs.uminh", "gs.thankinh"]:
        for path in ["", "/events"]:
            body = await call(people[who], "GET", f"/api/v1/cases/{case['id']}{path}", expect=404)
            assert body == missing


async def test_admin_sees_metadata_but_no_clinical_content(people: dict[str, SignedIn]) -> None:
    case = await create_case(people["bs.namcan"])
    seen = await call(people["kiemtra"], "GET", f"/api/v1/cases/{case['id']}")
    assert seen["clinical"] is False
    assert seen["status"] == "requested"
    for clinical in ("summary", "patient", "title", "questions", "notes", "decisions"):
        assert clinical not in seen
    await call(people["kiemtra"], "GET", f"/api/v1/cases/{case['id']}/events", expect=403)
    await call(
        people["kiemtra"], "POST", f"/api/v1/cases/{case['id']}/notes", {"body": "x"}, expect=403
    )


async def test_the_whole_workflow(people: dict[str, SignedIn]) -> None:
    doctor, chair, member = people["bs.namcan"], people["gs.chutoa"], people["gs.timmach"]
    case_id = (await create_case(doctor))["id"]
    asked = await act(chair, case_id, "request_info", message="Cần thêm troponin.")
    assert asked["status"] == "info_requested"
    answered = await act(doctor, case_id, "provide_info", message="Troponin T 0.8 ng/mL.")
    assert answered["status"] == "requested"
    assert (await act(people["ts.thuky"], case_id, "accept"))["status"] == "accepted"
    scheduled = await act(chair, case_id, "schedule", scheduled_at="2026-01-02T09:00:00+07:00")
    assert scheduled["scheduled_at"] == "2026-01-02T02:00:00+00:00"
    assert (await act(chair, case_id, "start_session"))["status"] == "in_session"
    note = await call(doctor, "POST", f"/api/v1/cases/{case_id}/notes", {"body": "ECG *mới*"}, 201)
    assert note["body_html"] == "<p>ECG <em>mới</em></p>\n"
    draft = await call(chair, "PUT", f"/api/v1/cases/{case_id}/decision/draft", DRAFT)
    assert (draft["version"], draft["status"]) == (1, "draft")
    await call(
        member,
        "POST",
        f"/api/v1/cases/{case_id}/decision/opinions",
        {"version": 1, "stance": "concur"},
    )
    await step_up(chair)
    signed = await call(chair, "POST", f"/api/v1/cases/{case_id}/decision/sign", {"version": 1})
    assert signed["status"] == "signed"
    assert len(signed["content_sha256"]) == 64
    assert [o["stance"] for o in signed["opinions"]] == ["concur"]
    board = await call(doctor, "GET", f"/api/v1/cases/{case_id}")
    assert board["status"] == "decided"
    closed = await act(doctor, case_id, "close", outcome="Đã chuyển viện, can thiệp thành công.")
    assert (closed["status"], closed["outcome"]) == (
        "closed",
        "Đã chuyển viện, can thiệp thành công.",
    )
    types = [
        e["type"] for e in (await call(doctor, "GET", f"/api/v1/cases/{case_id}/events"))["events"]
    ]
    assert types == [
        "case.created",
        "case.info_requested",
        "case.info_provided",
        "case.accepted",
        "case.scheduled",
        "case.session_started",
        "note.created",
        "decision.drafted",
        "decision.opinion",
        "decision.signed",
        "case.decided",
        "case.closed",
    ]
    participants = [p["username"] for p in closed["participants"]]
    assert participants == ["bs.namcan", "gs.chutoa", "ts.thuky", "gs.timmach"]


@pytest.mark.parametrize(
    ("setup", "action", "status"),
    [
        ([], "start_session", "requested"),
        ([], "close", "requested"),
        ([], "schedule", "requested"),
        (["accept"], "accept", "accepted"),
        (["accept"], "request_info", "accepted"),
        (["accept", "schedule", "start_session"], "cancel", "in_session"),
        (["decline"], "accept", "declined"),
    ],
)
async def test_illegal_transitions_get_409_with_the_current_status(
    people: dict[str, SignedIn], setup: list[str], action: str, status: str
) -> None:
    chair, doctor = people["gs.chutoa"], people["bs.namcan"]
    case_id = (await create_case(doctor))["id"]
    extra = {
        "schedule": {"scheduled_at": "2026-01-02T09:00:00+07:00"},
        "decline": {"reason": "Ngoài chuyên môn."},
        "request_info": {"message": "?"},
        "close": {"outcome": "x"},
    }
    for step in setup:
        await act(chair, case_id, step, **extra.get(step, {}))
    actor = doctor if action in ("close", "cancel") else chair
    before = (await call(doctor, "GET", f"/api/v1/cases/{case_id}"))["last_seq"]
    body = await call(
        actor,
        "POST",
        f"/api/v1/cases/{case_id}/transitions",
        {"action": action, **extra.get(action, {})},
        expect=409,
    )
    assert body["error"]["status"] == status
    assert (await call(doctor, "GET", f"/api/v1/cases/{case_id}"))["last_seq"] == before


@pytest.mark.parametrize(
    ("action", "missing"),
    [("decline", "reason"), ("request_info", "message"), ("schedule", "scheduled_at")],
)
async def test_transitions_that_need_a_field_name_it(
    people: dict[str, SignedIn], action: str, missing: str
) -> None:
    case_id = (await create_case(people["bs.namcan"]))["id"]
    if action == "schedule":
        await act(people["gs.chutoa"], case_id, "accept")
    body = await call(
        people["gs.chutoa"],
        "POST",
        f"/api/v1/cases/{case_id}/transitions",
        {"action": action},
        expect=422,
    )
    assert body["error"]["fields"][0]["field"] == missing


async def test_schedule_needs_a_time_zone(people: dict[str, SignedIn]) -> None:
    case_id = (await create_case(people["bs.namcan"]))["id"]
    await act(people["gs.chutoa"], case_id, "accept")
    body = await call(
        people["gs.chutoa"],
        "POST",
        f"/api/v1/cases/{case_id}/transitions",
        {"action": "schedule", "scheduled_at": "2026-01-02T09:00:00"},
        expect=422,
    )
    assert body["error"]["fields"][0]["field"] == "scheduled_at"


async def test_a_session_time_in_the_past_is_refused(
    people: dict[str, SignedIn], clock: ManualClock, settings: Settings
) -> None:
    chair = people["gs.chutoa"]
    case_id = (await create_case(people["bs.namcan"]))["id"]
    await act(chair, case_id, "accept")
    path = f"/api/v1/cases/{case_id}/transitions"
    yesterday = (clock.now() - timedelta(days=1)).isoformat()
    body = await call(chair, "POST", path, {"action": "schedule", "scheduled_at": yesterday}, 422)
    assert body["error"]["fields"] == [
        {"field": "scheduled_at", "message": "must not be in the past", "code": "in_the_past"}
    ]
    # A time picked to the minute a moment ago is a plan for now, not a mistake.
    just_now = (clock.now() - timedelta(minutes=2)).isoformat()
    board = await call(chair, "POST", path, {"action": "schedule", "scheduled_at": just_now})
    assert board["status"] == "scheduled"
    rows = await audit_rows(settings.database_url, action="case.schedule")
    assert [r["outcome"] for r in rows] == ["error", "success"]


async def test_note_retry_with_same_client_id_stores_one_note(
    people: dict[str, SignedIn],
) -> None:
    doctor = people["bs.namcan"]
    case_id = (await create_case(doctor))["id"]
    path = f"/api/v1/cases/{case_id}/notes"
    first = await call(doctor, "POST", path, {"body": "Mạch 110", "client_id": "abc-1"}, 201)
    again = await call(doctor, "POST", path, {"body": "Mạch 110", "client_id": "abc-1"}, 200)
    assert again == first
    # Another author may use the same client id: ids are scoped per author.
    other = await call(people["gs.timmach"], "POST", path, {"body": "x", "client_id": "abc-1"}, 201)
    assert other["id"] != first["id"]
    board = await call(doctor, "GET", f"/api/v1/cases/{case_id}")
    assert [n["id"] for n in board["notes"]] == [first["id"], other["id"]]


async def test_a_correction_supersedes_and_keeps_the_original(
    people: dict[str, SignedIn],
) -> None:
    doctor, member = people["bs.namcan"], people["gs.timmach"]
    case_id = (await create_case(doctor))["id"]
    path = f"/api/v1/cases/{case_id}/notes"
    wrong = await call(doctor, "POST", path, {"body": "HA 90/60", "question": 1}, 201)
    fixed = await call(doctor, "POST", path, {"body": "HA 100/60", "supersedes": wrong["id"]}, 201)
    board = await call(doctor, "GET", f"/api/v1/cases/{case_id}")
    assert [(n["id"], n["superseded_by"]) for n in board["notes"]] == [
        (wrong["id"], fixed["id"]),
        (fixed["id"], None),
    ]
    refused = await call(member, "POST", path, {"body": "x", "supersedes": wrong["id"]}, 403)
    assert refused["error"]["code"] == "forbidden"
    await call(doctor, "POST", path, {"body": "x", "question": 9}, 422)
    await call(doctor, "POST", path, {"body": "x", "supersedes": 424242}, 422)
    await call(doctor, "POST", path, {"body": ""}, 422)
    await call(doctor, "POST", path, {"body": "x" * 20_001}, 422)


async def test_notes_are_refused_once_the_case_is_over(people: dict[str, SignedIn]) -> None:
    doctor = people["bs.namcan"]
    case_id = (await create_case(doctor))["id"]
    await act(doctor, case_id, "cancel", reason="Bệnh nhân ổn định.")
    body = await call(doctor, "POST", f"/api/v1/cases/{case_id}/notes", {"body": "x"}, 409)
    assert body["error"]["status"] == "cancelled"


async def test_note_markdown_never_renders_raw_html(people: dict[str, SignedIn]) -> None:
    doctor = people["bs.namcan"]
    case_id = (await create_case(doctor))["id"]
    body = "<img src=x onerror=alert(1)> [x](javascript:alert(1)) ![i](http://x/y.png)"
    note = await call(doctor, "POST", f"/api/v1/cases/{case_id}/notes", {"body": body}, 201)
    assert "<img" not in note["body_html"]
    assert 'href="javascript:' not in note["body_html"]
    assert '<a href="http://x/y.png">' in note["body_html"]  # images stay links
    assert "&lt;img src=x onerror=alert(1)&gt;" in note["body_html"]
    assert note["body"] == body


async def test_decision_draft_versions_opinions_signing_and_amendment(
    people: dict[str, SignedIn],
) -> None:
    doctor, chair, member = people["bs.namcan"], people["gs.chutoa"], people["gs.timmach"]
    case_id = (await create_case(doctor))["id"]
    base = f"/api/v1/cases/{case_id}/decision"
    await call(chair, "PUT", base + "/draft", DRAFT, 409)  # not accepted yet
    await to_session(chair, case_id)
    await call(member, "PUT", base + "/draft", DRAFT, 403)
    await call(doctor, "PUT", base + "/draft", DRAFT, 403)
    partial = {**DRAFT, "answers": DRAFT["answers"][:1]}
    first = await call(chair, "PUT", base + "/draft", partial)
    await call(chair, "PUT", base + "/draft", partial, 409)  # version 0 again: a draft exists
    await call(member, "POST", base + "/opinions", {"version": 1, "stance": "concur"})
    second = await call(people["ts.thuky"], "PUT", base + "/draft", {**DRAFT, "version": 1})
    assert (first["version"], second["version"]) == (1, 2)
    assert second["opinions"] == []  # an edited draft needs the members' opinions again
    stale = await call(chair, "PUT", base + "/draft", {**DRAFT, "version": 1}, 409)
    assert stale["error"]["current_version"] == 2
    await call(member, "POST", base + "/opinions", {"version": 1, "stance": "concur"}, 409)
    await call(member, "POST", base + "/opinions", {"version": 2, "stance": "dissent"}, 422)
    await call(doctor, "POST", base + "/opinions", {"version": 2, "stance": "concur"}, 403)
    await call(
        member,
        "POST",
        base + "/opinions",
        {"version": 2, "stance": "dissent", "reason": "Chưa đủ."},
    )
    await call(member, "POST", base + "/sign", {"version": 2}, 403)
    await step_up(chair)
    signed = await call(chair, "POST", base + "/sign", {"version": 2})
    assert signed["opinions"][0]["stance"] == "dissent"
    await call(chair, "POST", base + "/sign", {"version": 2}, 409)  # nothing left to sign
    amendment = await call(chair, "PUT", base + "/draft", {**DRAFT, "transfer": False})
    assert amendment["amends"] == signed["id"]
    await step_up(chair)
    amended = await call(chair, "POST", base + "/sign", {"version": 1})
    assert amended["amends"] == signed["id"]
    board = await call(doctor, "GET", f"/api/v1/cases/{case_id}")
    assert [(d["id"], d["status"], d["transfer"]) for d in board["decisions"]] == [
        (signed["id"], "signed", True),
        (amended["id"], "signed", False),
    ]
    assert board["decisions"][0]["content_sha256"] == signed["content_sha256"]
    assert board["status"] == "decided"


async def test_signing_needs_an_answer_for_every_question(people: dict[str, SignedIn]) -> None:
    chair = people["gs.chutoa"]
    case_id = (await create_case(people["bs.namcan"]))["id"]
    await to_session(chair, case_id)
    base = f"/api/v1/cases/{case_id}/decision"
    await call(chair, "PUT", base + "/draft", {**DRAFT, "answers": DRAFT["answers"][:1]})
    await step_up(chair)
    body = await call(chair, "POST", base + "/sign", {"version": 1}, 422)
    assert body["error"]["fields"] == [
        {"field": "answers.2", "message": "question 2 has no answer", "code": "unanswered"}
    ]
    # The message names the question too, for clients that show only the message.
    assert "Unanswered: question 2." in body["error"]["message"]
    empty = {**DRAFT, "version": 1, "treatment_direction": "", "answers": []}
    await call(chair, "PUT", base + "/draft", empty)
    await step_up(chair)
    body = await call(chair, "POST", base + "/sign", {"version": 2}, 422)
    assert [f["field"] for f in body["error"]["fields"]] == [
        "answers.1",
        "answers.2",
        "treatment_direction",
    ]
    assert "question 1, 2." in body["error"]["message"]
    bad = {**DRAFT, "answers": [{"question": 7, "answer": "?"}]}
    await call(chair, "PUT", base + "/draft", {**bad, "version": 2}, 422)


async def test_concurrent_writers_get_consecutive_seqs(people: dict[str, SignedIn]) -> None:
    writers = [people["bs.namcan"], people["gs.chutoa"], people["gs.timmach"]]
    case_id = (await create_case(writers[0]))["id"]
    notes = await asyncio.gather(
        *(
            call(writers[n % 3], "POST", f"/api/v1/cases/{case_id}/notes", {"body": f"n{n}"}, 201)
            for n in range(30)
        )
    )
    assert sorted(note["seq"] for note in notes) == list(range(2, 32))
    events = await call(writers[0], "GET", f"/api/v1/cases/{case_id}/events?after=0")
    assert [e["seq"] for e in events["events"]] == list(range(1, 32))


async def test_events_after_a_seq_and_paging(people: dict[str, SignedIn]) -> None:
    doctor = people["bs.namcan"]
    case_id = (await create_case(doctor))["id"]
    for n in range(5):
        await call(doctor, "POST", f"/api/v1/cases/{case_id}/notes", {"body": f"n{n}"}, 201)
    page = await call(doctor, "GET", f"/api/v1/cases/{case_id}/events?after=2&limit=2")
    assert [e["seq"] for e in page["events"]] == [3, 4]
    assert (page["last_seq"], page["has_more"]) == (6, True)
    rest = await call(doctor, "GET", f"/api/v1/cases/{case_id}/events?after=4")
    assert ([e["seq"] for e in rest["events"]], rest["has_more"]) == ([5, 6], False)
    await call(doctor, "GET", f"/api/v1/cases/{case_id}/events?after=-1", expect=422)


async def test_events_before_a_seq_page_back_to_the_first(people: dict[str, SignedIn]) -> None:
    doctor = people["bs.namcan"]
    case_id = (await create_case(doctor))["id"]
    for n in range(4):
        await call(doctor, "POST", f"/api/v1/cases/{case_id}/notes", {"body": f"n{n}"}, 201)
    base = f"/api/v1/cases/{case_id}/events"
    latest = await call(doctor, "GET", f"{base}?before=6&limit=2")
    assert ([e["seq"] for e in latest["events"]], latest["has_more"]) == ([4, 5], True)
    first = await call(doctor, "GET", f"{base}?before=3&limit=5")
    assert ([e["seq"] for e in first["events"]], first["has_more"]) == ([1, 2], False)
    beyond = await call(doctor, "GET", f"{base}?before=99&limit=1")
    assert ([e["seq"] for e in beyond["events"]], beyond["has_more"]) == ([5], True)
    both = await call(doctor, "GET", f"{base}?before=3&after=1", expect=422)
    assert both["error"]["code"] == "validation_error"


async def test_the_board_carries_the_latest_notes_and_pages_back_to_the_first(
    people: dict[str, SignedIn], settings: Settings
) -> None:
    doctor, member = people["bs.namcan"], people["gs.timmach"]
    case_id = (await create_case(doctor))["id"]
    notes_path = f"/api/v1/cases/{case_id}/notes"
    first = await call(doctor, "POST", notes_path, {"body": "đầu tiên"}, 201)
    for n in range(118):
        await call(member if n % 2 else doctor, "POST", notes_path, {"body": f"ghi chú {n}"}, 201)
    fix = await call(doctor, "POST", notes_path, {"body": "sửa", "supersedes": first["id"]}, 201)

    board = await call(doctor, "GET", f"/api/v1/cases/{case_id}")
    notes = board["notes"]
    assert len(notes) == 50
    assert notes[-1]["id"] == fix["id"]
    assert [n["seq"] for n in notes] == list(range(board["last_seq"] - 49, board["last_seq"] + 1))
    pages = [notes]
    before = board["notes_before"]
    while before is not None:
        page = await call(member, "GET", f"{notes_path}?before={before}")
        pages.insert(0, page["notes"])
        before = page["notes_before"]
    assert [len(page) for page in pages] == [20, 50, 50]
    every = [n for page in pages for n in page]
    assert [n["seq"] for n in every] == list(range(2, board["last_seq"] + 1))
    # The correction is on the newest page, the note it corrects on the oldest.
    assert (every[0]["id"], every[0]["superseded_by"]) == (first["id"], fix["id"])
    assert all(n["superseded_by"] is None for n in every[1:])
    assert every[1]["author"]["username"] == "bs.namcan"

    small = await call(doctor, "GET", f"{notes_path}?limit=3")
    assert [n["seq"] for n in small["notes"]] == [n["seq"] for n in notes[-3:]]
    assert small["notes_before"] == notes[-3]["seq"]
    for bad in ("limit=0", "limit=501", "before=-1", "after=3"):
        await call(doctor, "GET", f"{notes_path}?{bad}", expect=422)
    rows = await audit_rows(settings.database_url, action="case.notes")
    assert [(r["outcome"], r["case_id"]) for r in rows] == [("success", case_id)] * 3
