"""The inbox: every notification is stored per user with the change that caused it, read
back after a reload (a new session), each user's own only, marked read one or all."""

from __future__ import annotations

from sqlalchemy import select

from telemed import appkeys
from telemed.notifications.models import Notification
from tests.support.api import call
from tests.support.cases import act, create_case, to_scheduled
from tests.support.participants import participant
from tests.support.server import RunningServer

INBOX = "/api/v1/notifications"


async def _stored(server: RunningServer, case_id: int) -> list[tuple[str, str]]:
    """The case's notifications as the database holds them: (kind, user id) per row."""
    async with server.app[appkeys.SESSIONMAKER]() as db:
        rows = await db.scalars(
            select(Notification).where(Notification.case_id == case_id).order_by(Notification.id)
        )
        return [(row.kind, str(row.user_id)) for row in rows]


async def test_every_kind_is_stored_for_its_recipients_only(server: RunningServer) -> None:
    people = await server.sign_in_all()
    doctor, chair = people["bs.namcan"], people["gs.chutoa"]
    case_id = int((await create_case(doctor, urgency="emergency", title="Đột quỵ cấp"))["id"])

    # Right after the answer the rows are in the database: written with the case.
    council = {str(people[n].user["id"]) for n in ("gs.chutoa", "ts.thuky", "gs.timmach")}
    stored = await _stored(server, case_id)
    assert {user for kind, user in stored if kind == "case.requested"} == council
    assert {user for kind, user in stored if kind == "emergency"} == council
    assert len(stored) == 6

    await act(chair, case_id, "request_info", message="Cần điện tim.")
    await act(doctor, case_id, "provide_info", message="Đã gửi.")
    await to_scheduled(chair, case_id)
    kinds = {kind for kind, _ in await _stored(server, case_id)}
    assert kinds == {
        "case.requested",
        "emergency",
        "case.info_requested",
        "case.accepted",
        "case.scheduled",
    }

    # A new session (a reload, another browser) finds them; another council hears nothing.
    again = await server.sign_in("gs.timmach")
    page = await call(again, "GET", INBOX)
    assert [n["kind"] for n in page["items"]] == ["case.scheduled", "emergency", "case.requested"]
    assert page["unread"] == 3
    first = page["items"][-1]
    assert (first["case_id"], first["title"], first["urgency"]) == (
        case_id,
        "Đột quỵ cấp",
        "emergency",
    )
    assert "summary" not in first
    assert "patient_code" not in first
    assert (await call(people["gs.thankinh"], "GET", INBOX))["items"] == []
    mine = await call(doctor, "GET", INBOX)
    assert [n["kind"] for n in mine["items"]] == [
        "case.scheduled",
        "case.accepted",
        "case.info_requested",
    ]


async def test_a_declined_request_and_a_cancelled_session_reach_who_they_concern(
    server: RunningServer,
) -> None:
    people = await server.sign_in_all()
    doctor, chair = people["bs.namcan"], people["gs.chutoa"]
    declined = int((await create_case(doctor))["id"])
    await act(chair, declined, "decline", reason="Ngoài chuyên môn.")
    cancelled = int((await create_case(doctor, patient_code="NC-2026-002"))["id"])
    await to_scheduled(chair, cancelled)
    await act(doctor, cancelled, "cancel")

    mine = (await call(doctor, "GET", INBOX))["items"]
    assert [(n["kind"], n["case_id"]) for n in mine] == [
        ("session.cancelled", cancelled),
        ("case.scheduled", cancelled),
        ("case.accepted", cancelled),
        ("case.declined", declined),
    ]
    member = (await call(people["gs.timmach"], "GET", INBOX))["items"]
    assert member[0]["kind"] == "session.cancelled"
    assert member[0]["scheduled_at"] == mine[1]["scheduled_at"]


async def test_pages_newest_first(server: RunningServer) -> None:
    doctor, member = await server.sign_in("bs.namcan"), await server.sign_in("gs.timmach")
    ids = [int((await create_case(doctor, patient_code=f"NC-2026-10{i}"))["id"]) for i in range(3)]
    first = await call(member, "GET", f"{INBOX}?limit=2")
    assert [n["case_id"] for n in first["items"]] == [ids[2], ids[1]]
    assert first["next"] == first["items"][-1]["id"]
    second = await call(member, "GET", f"{INBOX}?limit=2&before={first['next']}")
    assert [n["case_id"] for n in second["items"]] == [ids[0]]
    assert second["next"] is None
    refused = await call(member, "GET", f"{INBOX}?limit=0", expect=422)
    assert refused["error"]["code"] == "validation_error"


async def test_marking_read_is_for_ones_own_only(server: RunningServer) -> None:
    doctor = await server.sign_in("bs.namcan")
    member, chair = await server.sign_in("gs.timmach"), await server.sign_in("gs.chutoa")
    for code in ("NC-2026-201", "NC-2026-202"):
        await create_case(doctor, patient_code=code)
    items = (await call(member, "GET", INBOX))["items"]
    assert (await call(member, "GET", f"{INBOX}/unread")) == {"unread": 2}

    # Another user's notification answers like a missing one, and stays unread.
    theirs = await call(chair, "POST", f"{INBOX}/{items[0]['id']}/read", expect=404)
    assert theirs["error"]["code"] == "not_found"
    await call(chair, "POST", f"{INBOX}/999999/read", expect=404)
    assert (await call(member, "GET", f"{INBOX}/unread")) == {"unread": 2}

    read = await call(member, "POST", f"{INBOX}/{items[0]['id']}/read", cookie=True)
    assert read["unread"] == 1
    assert read["notification"]["read_at"] is not None
    # Marking it again changes nothing.
    again = await call(member, "POST", f"{INBOX}/{items[0]['id']}/read")
    assert again["notification"]["read_at"] == read["notification"]["read_at"]
    assert (await call(member, "POST", f"{INBOX}/read")) == {"unread": 0}
    assert (await call(member, "GET", f"{INBOX}/unread")) == {"unread": 0}
    assert (await call(chair, "GET", f"{INBOX}/unread")) == {"unread": 2}
    # The browser's cookie without its CSRF token is refused.
    async with member.http.post(f"{INBOX}/read") as response:
        assert response.status == 403


async def test_the_live_notice_is_the_stored_one_and_the_count_follows(
    server: RunningServer,
) -> None:
    member = await participant(server, "gs.timmach")
    doctor = await server.sign_in("bs.namcan")
    case_id = int((await create_case(doctor))["id"])
    await member.until(lambda: len(member.notices) == 1)
    assert member.signed is not None
    stored = (await call(member.signed, "GET", INBOX))["items"]
    assert member.notices[0] == stored[0]
    assert member.notices[0]["case_id"] == case_id

    counts: list[int] = []
    member.client.on("inbox", lambda data: counts.append(data["unread"]))
    await call(member.signed, "POST", f"{INBOX}/{stored[0]['id']}/read")
    await member.until(lambda: counts == [0])
    await member.close()
