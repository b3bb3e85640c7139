"""Reviewing the audit trail over HTTP: filters, pagination, exports, verification, and
that only administrators may (every attempt recorded)."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from typing import Any

import pytest
from fhir.resources.R4B.auditevent import AuditEvent

from telemed.clock import ManualClock
from tests.support.api import call
from tests.support.audit import audit_rows
from tests.support.cases import create_case
from tests.support.server import RunningServer, SignedIn

ITEM_KEYS = {
    "seq",
    "at",
    "actor",
    "address",
    "action",
    "case_id",
    "object_id",
    "outcome",
    "request_id",
    "content_hash",
    "stepped_up_at",
    "hash",
}


@dataclass
class Activity:
    admin: SignedIn
    doctor: SignedIn
    chair: SignedIn
    case_id: int
    note_at: str


@pytest.fixture
async def activity(server: RunningServer, clock: ManualClock) -> Activity:
    """Sign-ins, a case with a note ten minutes later, the chair reading it, a failed sign-in
    with a spreadsheet formula for a name."""
    doctor = await server.sign_in("bs.namcan")
    chair = await server.sign_in("gs.chutoa")
    case_id = (await create_case(doctor))["id"]
    clock.advance(600)
    note_at = clock.now().isoformat()
    await call(doctor, "POST", f"/api/v1/cases/{case_id}/notes", {"body": "ECG mới"}, 201)
    await call(chair, "GET", f"/api/v1/cases/{case_id}")
    async with server.http().post(
        "/api/v1/auth/login", json={"username": "=HYPERLINK(1)", "password": "x"}
    ) as response:
        assert response.status == 401
    admin = await server.sign_in("kiemtra")
    return Activity(admin, doctor, chair, case_id, note_at)


async def review(who: SignedIn, query: str = "", expect: int = 200) -> Any:
    return await call(who, "GET", f"/api/v1/audit{query}", expect=expect)


async def test_review_is_newest_first_with_each_item_complete(
    activity: Activity, database_url: str
) -> None:
    page = await review(activity.admin, "?limit=3")
    items = page["items"]
    assert [item["seq"] for item in items] == sorted((i["seq"] for i in items), reverse=True)
    assert all(set(item) == ITEM_KEYS for item in items)
    newest = items[0]
    assert (newest["action"], newest["outcome"]) == ("auth.login", "success")
    assert newest["actor"] == {
        "id": activity.admin.user["id"],
        "username": "kiemtra",
        "role": "admin",
        "facility": None,
    }
    stored = (await audit_rows(database_url, seq=newest["seq"]))[0]
    assert newest["hash"] == stored["hash"]
    assert newest["request_id"] == stored["request_id"]
    assert page["next_cursor"] == str(items[-1]["seq"])


async def test_every_page_follows_the_last_without_gaps_or_repeats(activity: Activity) -> None:
    seen: list[int] = []
    cursor = ""
    while True:
        page = await review(activity.admin, f"?limit=4{cursor}")
        seen += [item["seq"] for item in page["items"]]
        if page["next_cursor"] is None:
            break
        cursor = f"&cursor={page['next_cursor']}"
    assert seen == list(range(seen[0], 0, -1))


@pytest.mark.parametrize(
    ("query", "check"),
    [
        ("?actor=bs.namcan", lambda item, a: item["actor"]["username"] == "bs.namcan"),
        ("?case_id={case_id}", lambda item, a: item["case_id"] == a.case_id),
        ("?action=note.create", lambda item, a: item["action"] == "note.create"),
        ("?outcome=denied", lambda item, a: item["outcome"] == "denied"),
        ("?since={note_at}", lambda item, a: item["at"] >= a.note_at[:19]),
        ("?until={note_at}", lambda item, a: item["at"] < a.note_at[:19]),
        ("?actor=gs.chutoa&case_id={case_id}", lambda item, a: item["action"] == "case.read"),
    ],
)
async def test_filters_select_only_matching_rows(
    activity: Activity, query: str, check: Any
) -> None:
    from urllib.parse import quote

    filled = query.format(case_id=activity.case_id, note_at=quote(activity.note_at))
    items = (await review(activity.admin, filled))["items"]
    assert items
    assert all(check(item, activity) for item in items), items


async def test_the_filters_find_what_happened(activity: Activity) -> None:
    actions = [
        item["action"] for item in (await review(activity.admin, "?actor=bs.namcan"))["items"]
    ]
    assert actions == ["note.create", "case.create", "auth.login"]
    by_case = (await review(activity.admin, f"?case_id={activity.case_id}"))["items"]
    assert [(i["actor"]["username"], i["action"]) for i in by_case] == [
        ("gs.chutoa", "case.read"),
        ("bs.namcan", "note.create"),
        ("bs.namcan", "case.create"),
    ]
    denied = (await review(activity.admin, "?outcome=denied"))["items"]
    assert [(i["action"], i["actor"]["username"]) for i in denied] == [
        ("auth.login_failed", "=HYPERLINK(1)")
    ]
    empty = await review(activity.admin, "?actor=&case_id=&action=nothing.here")
    assert empty == {"items": [], "next_cursor": None}


@pytest.mark.parametrize(
    "query", ["?outcome=maybe", "?cursor=abc", "?limit=0", "?since=yesterday", "?colour=red"]
)
async def test_bad_filters_are_refused_with_422(activity: Activity, query: str) -> None:
    body = await review(activity.admin, query, expect=422)
    assert body["error"]["code"] == "validation_error"


@pytest.mark.parametrize(
    ("method", "path", "action"),
    [
        ("GET", "/api/v1/audit", "audit.query"),
        ("GET", "/api/v1/audit/export.csv", "audit.export"),
        ("GET", "/api/v1/audit/export.ndjson", "audit.export"),
        ("GET", "/api/v1/audit/verify", "audit.verify"),
        ("POST", "/api/v1/audit/verify", "audit.verify"),
        ("POST", "/api/v1/audit/checkpoints", "audit.checkpoint"),
    ],
)
async def test_anyone_but_an_administrator_is_refused_and_the_attempt_recorded(
    activity: Activity, database_url: str, method: str, path: str, action: str
) -> None:
    for who in (activity.doctor, activity.chair):
        body = await call(who, method, path, {} if method == "POST" else None, expect=403)
        assert body == {
            "error": {"code": "forbidden", "message": "Only administrators review the audit trail."}
        }
    rows = await audit_rows(database_url, action=action)
    assert [(row["actor_username"], row["outcome"]) for row in rows] == [
        ("bs.namcan", "denied"),
        ("gs.chutoa", "denied"),
    ]


async def test_reviewing_is_itself_recorded(activity: Activity, database_url: str) -> None:
    await review(activity.admin, f"?case_id={activity.case_id}")
    [row] = await audit_rows(database_url, action="audit.query")
    assert (row["actor_username"], row["outcome"], row["case_id"]) == (
        "kiemtra",
        "success",
        activity.case_id,
    )


async def test_signed_out_callers_get_401(server: RunningServer) -> None:
    async with server.http().get("/api/v1/audit") as response:
        assert response.status == 401


async def _export(who: SignedIn, name: str, query: str = "") -> tuple[str, str]:
    async with who.http.get(f"/api/v1/audit/{name}{query}", headers=who.bearer) as response:
        assert response.status == 200, await response.text()
        return response.headers["Content-Type"], await response.text()


async def test_csv_export_holds_the_filtered_rows_in_chain_order(
    activity: Activity, database_url: str
) -> None:
    content_type, text = await _export(activity.admin, "export.csv", "?actor=bs.namcan")
    assert content_type.startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(text)))
    assert [row["action"] for row in table] == ["auth.login", "case.create", "note.create"]
    stored = await audit_rows(database_url, actor_username="bs.namcan")
    assert [row["hash"] for row in table] == [row["hash"] for row in stored]
    assert table[1]["case_id"] == str(activity.case_id)
    [export_row] = await audit_rows(database_url, action="audit.export")
    assert (export_row["actor_username"], export_row["object_id"]) == ("kiemtra", "csv")


async def test_csv_export_defuses_spreadsheet_formulas(activity: Activity) -> None:
    _, text = await _export(activity.admin, "export.csv", "?outcome=denied")
    [row] = list(csv.DictReader(io.StringIO(text)))
    assert row["actor_username"] == "'=HYPERLINK(1)"


async def test_ndjson_export_is_valid_fhir_auditevents_in_balp_shape(
    activity: Activity,
) -> None:
    content_type, text = await _export(activity.admin, "export.ndjson")
    assert content_type.startswith("application/fhir+ndjson")
    events = [json.loads(line) for line in text.splitlines()]
    for event in events:
        AuditEvent.model_validate(event)  # raises on anything R4B does not allow
    by_action = {
        coding["code"]: event
        for event in events
        for coding in event["subtype"]
        if coding["system"] == "urn:telemed:audit-action"
    }

    login = by_action["auth.login"]
    assert login["type"]["code"] == "110114"
    assert login["subtype"][0]["code"] == "110122"
    assert (login["action"], login["outcome"]) == ("E", "0")

    note = by_action["note.create"]
    assert note["type"]["code"] == "rest"
    assert note["subtype"][0] == {
        "system": "http://hl7.org/fhir/restful-interaction",
        "code": "create",
    }
    assert note["action"] == "C"
    [agent] = note["agent"]
    assert agent["who"] == {
        "reference": f"Practitioner/{activity.doctor.user['id']}",
        "display": "bs.namcan",
    }
    assert agent["requestor"] is True
    assert agent["network"] == {"address": "127.0.0.1", "type": "2"}
    assert note["source"]["type"][0]["code"] == "4"
    assert note["source"]["observer"]["display"].startswith("Telemed")
    what = [entity["what"] for entity in note["entity"]]
    assert {
        "reference": f"ServiceRequest/{activity.case_id}",
        "display": f"Case {activity.case_id}",
    } in what
    assert any(w.get("identifier", {}).get("system") == "urn:telemed:object:note" for w in what)

    failed = by_action["auth.login_failed"]
    assert failed["outcome"] == "4"
    assert failed["agent"][0]["who"]["display"] == "=HYPERLINK(1)"
    read = by_action["case.read"]
    assert read["action"] == "R"


async def test_verify_and_checkpoint_over_http(activity: Activity, database_url: str) -> None:
    plain = await call(activity.admin, "GET", "/api/v1/audit/verify")
    assert plain["ok"] is True
    assert plain["first_bad_seq"] is None
    assert plain["rows"] == len(await audit_rows(database_url))

    checkpoint = await call(activity.admin, "POST", "/api/v1/audit/checkpoints", {}, expect=201)
    assert checkpoint["seq"] == len(await audit_rows(database_url))
    pinned = await call(activity.admin, "POST", "/api/v1/audit/verify", {"checkpoint": checkpoint})
    assert pinned["ok"] is True
    assert pinned["checkpoint"] == {k: checkpoint[k] for k in ("seq", "hash", "at")}

    moved = {**checkpoint, "hash": "0" * 64}
    forged = await call(activity.admin, "POST", "/api/v1/audit/verify", {"checkpoint": moved})
    assert (forged["ok"], forged["reason"]) == (False, "the checkpoint's signature is not valid")

    broken = await call(
        activity.admin, "POST", "/api/v1/audit/verify", {"checkpoint": {"seq": 1}}, expect=422
    )
    assert broken["error"]["code"] == "validation_error"
    verifications = await audit_rows(database_url, action="audit.verify", outcome="success")
    assert len(verifications) == 3
