"""Case search: words without diacritics, filters, order and pages, visibility exactly as
the list's, and an audit row for every search, on SQLite (FTS5) and PostgreSQL."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest
from alembic import command
from sqlalchemy import Connection

from telemed.cases.search_text import document, fold, words
from telemed.clock import ManualClock
from telemed.db.engine import create_engine
from telemed.db.migrations import alembic_config, upgrade
from tests.support.api import call
from tests.support.audit import audit_rows
from tests.support.cases import create_case
from tests.support.server import RunningServer, SignedIn

DAY = 24 * 3600


PEOPLE = ["bs.namcan", "bs.uminh", "gs.chutoa", "gs.thankinh", "kiemtra"]


@pytest.fixture
async def people(server: RunningServer) -> dict[str, SignedIn]:
    return await server.sign_in_all(PEOPLE)


async def search(who: SignedIn, expect: int = 200, **params: Any) -> Any:
    return await call(who, "GET", f"/api/v1/cases?{urlencode(params)}", expect=expect)


async def found(who: SignedIn, **params: Any) -> list[int]:
    return [item["id"] for item in (await search(who, **params))["items"]]


def test_folding_drops_vietnamese_diacritics_and_case() -> None:
    assert fold("Đau NGỰC trái, ƯỚC lượng") == "dau nguc trai, uoc luong"
    assert words("Khó thở — BN-2026_001") == ["kho", "tho", "bn", "2026", "001"]
    assert document("NC-1", "Đau ngực", "Sốt.") == "nc 1 dau nguc sot"


async def test_words_find_cases_whatever_their_diacritics(people: dict[str, SignedIn]) -> None:
    doctor = people["bs.namcan"]
    chest = (await create_case(doctor, title="Đau ngực", patient_code="NC-2026-001"))["id"]
    fever = (
        await create_case(
            doctor, title="Sốt cao co giật", summary="Trẻ 3 tuổi.", patient_code="NC-2026-002"
        )
    )["id"]
    for query in ["dau nguc", "ĐAU NGỰC", "nguc dau", "đau ng", "chenh len"]:
        assert await found(doctor, q=query) == [chest], query
    assert await found(doctor, q="NC-2026-002") == [fever]
    assert sorted(await found(doctor, q="nc 2026")) == sorted([chest, fever])
    assert await found(doctor, q="sot dau") == []
    assert await found(doctor, q="dau nguc", status="requested") == [chest]
    assert await found(doctor, q="dau nguc", status="closed") == []


async def test_participants_find_a_case_by_the_patient_s_identity(
    people: dict[str, SignedIn],
) -> None:
    """The identity is sealed, so no index holds it: a participant's words are matched
    against the identities of the cases in their scope, opened in memory. Anyone else
    finds nothing by it, and the answer never carries the identity."""
    doctor, chair = people["bs.namcan"], people["gs.chutoa"]
    identity = {"full_name": "Nguyễn Thị Bích Ngọc", "national_id": "096158001234"}
    named = (await create_case(doctor, title="Khó thở", identity=identity))["id"]
    await create_case(doctor, title="Khó thở")  # the same words elsewhere, no identity
    for query in ["nguyen thi bich ngoc", "Bích Ngọc", "0961580", "ngoc 096158001234"]:
        assert await found(doctor, q=query) == [named], query
        assert await found(chair, q=query) == [named], query
    assert await found(doctor, q="ngoc 999") == []
    # Another district's doctor and another council's member: as if it did not exist.
    assert await found(people["bs.uminh"], q="bich ngoc") == []
    assert await found(people["gs.thankinh"], q="bich ngoc") == []
    answer = await search(doctor, q="bich ngoc")
    assert "Ngọc" not in str(answer)
    assert "096158001234" not in str(answer)


async def test_search_sees_exactly_what_the_list_shows(people: dict[str, SignedIn]) -> None:
    chest = (await create_case(people["bs.namcan"], title="Đau ngực"))["id"]
    # The other facility and the other council find nothing of it.
    assert await found(people["bs.uminh"], q="dau nguc") == []
    assert await found(people["bs.uminh"], facility="TTYT-NAMCAN") == []
    assert await found(people["gs.thankinh"], q="dau nguc") == []
    assert await found(people["gs.chutoa"], q="dau nguc") == [chest]
    # An administrator searches metadata only: never by words, and the items hold none.
    body = await search(people["kiemtra"], expect=403, q="dau nguc")
    assert body["error"]["code"] == "forbidden"
    items = (await search(people["kiemtra"], facility="TTYT-NAMCAN"))["items"]
    assert [item["id"] for item in items] == [chest]
    assert all("title" not in item and "patient_code" not in item for item in items)


async def test_filters_by_council_facility_urgency_and_dates(
    server: RunningServer, clock: ManualClock
) -> None:
    people = await server.sign_in_all(PEOPLE)
    south = (await create_case(people["bs.namcan"]))["id"]  # 2026-01-01, HDCM-MIENNAM, urgent
    clock.advance(2 * DAY)  # sessions end meanwhile: everyone signs in again
    people = await server.sign_in_all(PEOPLE)
    central = (await create_case(people["bs.namcan"], council="HDCM-TW", urgency="emergency"))["id"]
    clock.advance(2 * DAY)
    people = await server.sign_in_all(PEOPLE)
    other = (await create_case(people["bs.uminh"], urgency="routine"))["id"]  # 2026-01-05
    namcan, admin = people["bs.namcan"], people["kiemtra"]
    assert await found(namcan, council="HDCM-TW") == [central]
    assert await found(namcan, council="HDCM-MIENNAM") == [south]
    assert await found(admin, facility="TTYT-UMINH") == [other]
    assert await found(admin, urgency="emergency", sort="oldest") == [central]
    days = {"from": "2026-01-02T00:00:00+07:00", "to": "2026-01-04T00:00:00+07:00"}
    assert await found(admin, **days) == [central]
    assert await found(admin, sort="oldest", **{"from": "2026-01-03T00:00:00Z"}) == [
        central,
        other,
    ]
    assert await found(admin, to="2026-01-01T08:00:00Z") == []  # "to" is exclusive
    assert await found(admin, **{"from": "2026-01-01T08:00:00Z"}, to="2026-01-01T08:00:01Z") == [
        south
    ]


@pytest.mark.parametrize(
    ("sort", "reverse"), [("newest", True), ("oldest", False), ("urgency", False)]
)
async def test_results_come_in_order_and_in_pages(
    people: dict[str, SignedIn], clock: ManualClock, sort: str, reverse: bool
) -> None:
    doctor = people["bs.namcan"]
    made = []
    for n in range(5):
        made.append((await create_case(doctor, title=f"Đau ngực {n}"))["id"])
        clock.advance(60)
    await create_case(doctor, title="Sốt", summary="Sốt cao.")  # not a match
    seen: list[int] = []
    params: dict[str, Any] = {"q": "dau nguc", "sort": sort, "limit": 2}
    while True:
        page = await search(doctor, **params)
        assert len(page["items"]) <= 2
        seen += [item["id"] for item in page["items"]]
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]
    assert seen == (made[::-1] if reverse else made)
    # A cursor names its order: it is not valid for another.
    first = await search(doctor, q="dau nguc", sort=sort, limit=2)
    other = "oldest" if sort != "oldest" else "newest"
    body = await search(doctor, expect=422, q="dau", sort=other, cursor=first["next_cursor"])
    assert body["error"]["fields"][0]["field"] == "cursor"


async def test_every_search_leaves_an_audit_row(
    people: dict[str, SignedIn], database_url: str
) -> None:
    await create_case(people["bs.namcan"], title="Đau ngực")
    await found(people["gs.chutoa"], q="dau nguc")
    await found(people["kiemtra"], council="HDCM-MIENNAM")
    await search(people["kiemtra"], expect=403, q="dau")
    await search(people["gs.chutoa"], expect=422, council="HDCM-NOWHERE")
    await found(people["gs.chutoa"], status="requested")  # a look at the list, no search
    rows = await audit_rows(database_url, action="case.search")
    assert [(r["actor_username"], r["outcome"]) for r in rows] == [
        ("gs.chutoa", "success"),
        ("kiemtra", "success"),
        ("kiemtra", "denied"),
        ("gs.chutoa", "error"),
    ]
    listed = await audit_rows(database_url, action="case.list", actor_username="gs.chutoa")
    assert [r["outcome"] for r in listed] == ["success"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"q": "— !!"}, "q"),
        ({"q": " ".join(["a"] * 11)}, "q"),
        ({"q": "x" * 201}, "q"),
        ({"council": "HDCM-NOWHERE"}, "council"),
        ({"council": "HDCM\x00"}, "council"),
        ({"facility": "TTYT-NOWHERE"}, "facility"),
        ({"from": "yesterday"}, "from"),
        ({"from": "2026-01-02T00:00:00Z", "to": "2026-01-01T00:00:00Z"}, "to"),
        ({"sort": "relevance"}, "sort"),
        ({"cursor": "garbage"}, "cursor"),
        ({"query": "dau"}, "query"),
    ],
)
async def test_bad_parameters_are_refused_naming_the_field(
    people: dict[str, SignedIn], params: dict[str, str], field: str
) -> None:
    body = await search(people["bs.namcan"], expect=422, **params)
    assert field in [problem["field"] for problem in body["error"]["fields"]]


async def test_the_migration_indexes_the_cases_that_exist(
    people: dict[str, SignedIn], database_url: str
) -> None:
    chest = (await create_case(people["bs.namcan"], title="Đau ngực"))["id"]
    engine = create_engine(database_url)
    try:
        # Back to the revision before the index (which drops it), then forward again.
        async with engine.begin() as connection:
            await connection.run_sync(downgrade_to, "0008_guest_revocation")
        await upgrade(engine)
    finally:
        await engine.dispose()
    assert await found(people["bs.namcan"], q="dau nguc") == [chest]


def downgrade_to(connection: Connection, revision: str) -> None:
    config = alembic_config(connection.engine.url.render_as_string(hide_password=False))
    config.attributes["connection"] = connection
    command.downgrade(config, revision)
