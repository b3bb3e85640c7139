"""Numbers and times outside what the database can hold are refused as input (404 for an
id in the path, exactly like a missing record; 422 elsewhere), never answered 500.

The routes with an id in their path are read from the application's router, so a route
added later is covered here without being named.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import re
from dataclasses import dataclass
from typing import Any

import pytest

from telemed.app import create_app
from telemed.settings import Settings
from tests.support.api import call
from tests.support.attachments import Field as FormField
from tests.support.attachments import multipart, png_bytes, upload
from tests.support.audit import audit_rows
from tests.support.cases import DRAFT, act, create_case
from tests.support.server import RunningServer, SignedIn

# Past PostgreSQL's INTEGER, past SQLite's (and BIGINT's) 64 bits, and far past both.
HUGE = [2**31, 2**63, 10**30]
# The largest id every backend stores (PostgreSQL INTEGER): in range, and no record has it.
LARGEST_ID = 2**31 - 1
# Dates whose conversion to UTC leaves the years a datetime can hold.
FAR_DATES = ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-14:00"]

_ID_PARAM = re.compile(r"{(\w+_id)(?::[^}]*)?}")


def _id_routes() -> list[tuple[str, str]]:
    app = create_app(Settings())
    return sorted(
        {
            (route.method, route.resource.canonical)
            for route in app.router.routes()
            if route.resource is not None
            and route.method not in ("HEAD", "*")
            and _ID_PARAM.search(route.resource.canonical)
        }
    )


ID_ROUTES = _id_routes()

# A valid body for each route that takes one, so that only the id can be wrong.
BODIES: dict[tuple[str, str], Any] = {
    ("POST", "/api/v1/cases/{case_id}/notes"): {"body": "x"},
    ("POST", "/api/v1/cases/{case_id}/transitions"): {"action": "accept"},
    ("PUT", "/api/v1/cases/{case_id}/identity"): {"full_name": "X"},
    ("PUT", "/api/v1/cases/{case_id}/decision/draft"): DRAFT,
    ("POST", "/api/v1/cases/{case_id}/decision/opinions"): {"version": 1, "stance": "concur"},
    ("POST", "/api/v1/cases/{case_id}/decision/sign"): {"version": 1},
    ("POST", "/api/v1/cases/{case_id}/invites"): {"name": "Guest"},
    ("DELETE", "/api/v1/cases/{case_id}/invites/{invite_id}"): None,
    ("POST", "/api/v1/cases/{case_id}/attachments"): "multipart",
    ("PUT", "/api/v1/admin/users/{user_id}"): {"full_name": "X", "role": "council_member"},
    ("POST", "/api/v1/admin/users/{user_id}/disable"): None,
    ("POST", "/api/v1/admin/users/{user_id}/enable"): None,
    ("POST", "/api/v1/admin/users/{user_id}/password"): {"password": "mot-khau-rat-dai-42"},
    ("PUT", "/api/v1/admin/facilities/{facility_id}"): {"name": "X", "level": "district"},
    ("PUT", "/api/v1/admin/councils/{council_id}"): {"name": "X", "seat_facility": "TTYT-NAMCAN"},
    ("PUT", "/api/v1/admin/councils/{council_id}/members/{user_id}"): {"council_role": "member"},
    ("DELETE", "/api/v1/admin/councils/{council_id}/members/{user_id}"): None,
    ("POST", "/api/v1/notifications/{notification_id}/read"): None,
}
# Administration routes are asked by the administrator; every other route by the chair.
ADMIN_PREFIX = "/api/v1/admin/"


@dataclass
class Answer:
    status: int
    json: Any
    audit: list[tuple[str, str, str | None]]


async def _send(who: SignedIn, database_url: str, method: str, path: str, body: Any) -> Answer:
    before = len(await audit_rows(database_url))
    options: dict[str, Any] = {"headers": {**who.bearer}}
    if body == "multipart":
        data, content_type = multipart([FormField("file", png_bytes(), "a.png", "image/png")])
        options["data"] = io.BytesIO(data)
        options["headers"]["Content-Type"] = content_type
    elif body is not None:
        options["json"] = body
    async with who.http.request(method, path, **options) as response:
        content = await response.read()
        is_json = response.content_type == "application/json"
        parsed = await response.json() if is_json else None
        assert response.status != 500, (method, path, content[:300])
    rows = (await audit_rows(database_url))[before:]
    return Answer(
        response.status,
        parsed,
        [(row["action"], row["outcome"], row["actor_username"]) for row in rows],
    )


@pytest.mark.parametrize(("method", "route"), ID_ROUTES, ids=[f"{m} {r}" for m, r in ID_ROUTES])
async def test_an_id_out_of_range_is_answered_and_audited_like_a_missing_one(
    server: RunningServer, database_url: str, method: str, route: str
) -> None:
    if method != "GET":
        assert (method, route) in BODIES, f"add a valid body for {method} {route} above"
    doctor, chair = await asyncio.gather(server.sign_in("bs.namcan"), server.sign_in("gs.chutoa"))
    asker = await server.sign_in("kiemtra") if route.startswith(ADMIN_PREFIX) else chair
    case_id = int((await create_case(doctor))["id"])
    attachment_id = int((await upload(doctor, case_id, png_bytes(), "a.png"))["id"])
    # The demo network's first rows stand for the other ids of a route.
    real = {
        "case_id": case_id,
        "attachment_id": attachment_id,
        "user_id": 1,
        "council_id": 1,
        "facility_id": 1,
        "invite_id": 1,  # none yet: answered as a missing invitation either way
    }
    body = BODIES.get((method, route))
    for name in _ID_PARAM.findall(route):
        ids = {**real, name: LARGEST_ID}
        missing = await _send(asker, database_url, method, _path(route, ids), body)
        assert missing.status in (200, 404), missing
        for huge in HUGE:
            ids[name] = huge
            answer = await _send(asker, database_url, method, _path(route, ids), body)
            assert answer.status == missing.status, (name, huge, answer)
            if missing.json is not None:
                assert answer.json == missing.json, (name, huge)
            assert answer.audit == missing.audit, (name, huge)


def _path(route: str, ids: dict[str, int]) -> str:
    return _ID_PARAM.sub(lambda m: str(ids[m.group(1)]), route)


@pytest.fixture
async def people(server: RunningServer) -> dict[str, SignedIn]:
    return await server.sign_in_all(["bs.namcan", "gs.chutoa", "kiemtra"])


async def _refused(who: SignedIn, method: str, path: str, body: Any = None) -> list[str]:
    """The fields a 422 names."""
    answer = await call(who, method, path, body, expect=422)
    return [problem["field"] for problem in answer["error"]["fields"]]


async def test_events_after_a_huge_seq_is_refused(people: dict[str, SignedIn]) -> None:
    doctor = people["bs.namcan"]
    case_id = (await create_case(doctor))["id"]
    for huge in HUGE:
        path = f"/api/v1/cases/{case_id}/events?after={huge}"
        assert await _refused(doctor, "GET", path) == ["after"]


async def test_a_note_superseding_a_huge_id_is_refused(people: dict[str, SignedIn]) -> None:
    doctor = people["bs.namcan"]
    case_id = (await create_case(doctor))["id"]
    path = f"/api/v1/cases/{case_id}/notes"
    for huge in [*HUGE, 10**20]:
        assert await _refused(doctor, "POST", path, {"body": "x", "supersedes": huge}) == [
            "supersedes"
        ]
    # Every other integer of a body has its bound too.
    assert await _refused(doctor, "POST", path, {"body": "x", "question": 2**31}) == ["question"]


async def test_decision_versions_past_the_column_are_refused(
    people: dict[str, SignedIn],
) -> None:
    chair, doctor = people["gs.chutoa"], people["bs.namcan"]
    case_id = (await create_case(doctor))["id"]
    base = f"/api/v1/cases/{case_id}/decision"
    draft = {**DRAFT, "version": 2**31}
    assert await _refused(chair, "PUT", base + "/draft", draft) == ["version"]
    opinion = {"version": 2**63, "stance": "concur"}
    assert await _refused(chair, "POST", base + "/opinions", opinion) == ["version"]
    assert await _refused(chair, "POST", base + "/sign", {"version": 2**31}) == ["version"]
    # The lower bounds stay: an opinion or a signature names a version from 1.
    assert await _refused(chair, "POST", base + "/sign", {"version": 0}) == ["version"]
    opinion = {"version": 0, "stance": "concur"}
    assert await _refused(chair, "POST", base + "/opinions", opinion) == ["version"]


async def test_a_list_cursor_holding_huge_numbers_is_refused_and_audited(
    people: dict[str, SignedIn], database_url: str
) -> None:
    chair = people["gs.chutoa"]
    forged = [
        '[1e400, "2026-01-01T00:00:00+00:00", 1]',
        '[1, "2026-01-01T00:00:00+00:00", 1e400]',
        f'[1, "2026-01-01T00:00:00+00:00", {2**63}]',
        f'[{2**63}, "2026-01-01T00:00:00+00:00", 1]',
        '[1, "0001-01-01T00:00:00+01:00", 1]',
        '[1, "2026-01-01", 1]',
    ]
    for raw in forged:
        json.loads(raw)  # each is valid JSON: only its numbers are out of range
        cursor = base64.urlsafe_b64encode(raw.encode()).decode()
        assert await _refused(chair, "GET", f"/api/v1/cases?cursor={cursor}") == ["cursor"]
    rows = await audit_rows(database_url, action="case.list", actor_username="gs.chutoa")
    assert [row["outcome"] for row in rows] == ["error"] * len(forged)


@pytest.mark.parametrize("who", ["kiemtra", "gs.chutoa"])
async def test_audit_filters_out_of_range_are_refused(
    people: dict[str, SignedIn], who: str
) -> None:
    caller = people[who]
    for path in ["/api/v1/audit", "/api/v1/audit/export.csv", "/api/v1/audit/export.ndjson"]:
        for huge in HUGE:
            assert await _refused(caller, "GET", f"{path}?case_id={huge}") == ["case_id"]
        for date in FAR_DATES:
            for field in ("since", "until"):
                query = f"{field}={date.replace('+', '%2B')}"
                assert await _refused(caller, "GET", f"{path}?{query}") == [field]
    assert await _refused(caller, "GET", f"/api/v1/audit?cursor={2**63}") == ["cursor"]


async def test_statistics_windows_out_of_range_are_refused(people: dict[str, SignedIn]) -> None:
    for date in FAR_DATES:
        for field in ("since", "until"):
            query = f"{field}={date.replace('+', '%2B')}"
            assert await _refused(people["kiemtra"], "GET", f"/api/v1/stats?{query}") == [field]


async def test_scheduling_far_outside_the_calendar_is_refused(
    people: dict[str, SignedIn],
) -> None:
    chair = people["gs.chutoa"]
    case_id = (await create_case(people["bs.namcan"]))["id"]
    await act(chair, case_id, "accept")
    path = f"/api/v1/cases/{case_id}/transitions"
    for date in [*FAR_DATES, "1899-12-31T23:00:00+00:00", "2201-01-01T00:00:00+00:00"]:
        body = {"action": "schedule", "scheduled_at": date}
        assert await _refused(chair, "POST", path, body) == ["scheduled_at"]
    board = await act(chair, case_id, "schedule", scheduled_at="2200-12-31T23:00:00-00:30")
    assert board["status"] == "scheduled"
