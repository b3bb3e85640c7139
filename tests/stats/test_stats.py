"""Statistics: volume per facility and month, time to a signed decision, transfers."""

from __future__ import annotations

from typing import Any

from telemed.clock import ManualClock
from telemed.stats.service import months_between, percentile
from tests.support.api import call, step_up
from tests.support.cases import DRAFT, act, create_case, to_session
from tests.support.server import RunningServer, SignedIn

HOUR = 3600


async def decide(chair: SignedIn, case_id: int, *, transfer: bool) -> None:
    await call(
        chair, "PUT", f"/api/v1/cases/{case_id}/decision/draft", {**DRAFT, "transfer": transfer}
    )
    await step_up(chair)
    await call(chair, "POST", f"/api/v1/cases/{case_id}/decision/sign", {"version": 1})


async def stats(admin: SignedIn, query: str = "") -> Any:
    return await call(admin, "GET", f"/api/v1/stats{query}")


def test_percentiles_are_nearest_rank() -> None:
    assert percentile([], 0.5) is None
    assert percentile([5.0], 0.9) == 5.0
    assert percentile([4.0, 1.0, 3.0, 2.0], 0.5) == 2.0
    assert percentile([float(n) for n in range(1, 11)], 0.9) == 9.0
    assert percentile([float(n) for n in range(1, 12)], 0.9) == 10.0


def test_months_run_without_gaps_across_a_year() -> None:
    assert months_between("2025-11", "2026-02") == ["2025-11", "2025-12", "2026-01", "2026-02"]


async def test_figures_follow_the_cases(server: RunningServer, clock: ManualClock) -> None:
    namcan, uminh, chair, admin = [
        await server.sign_in(n) for n in ("bs.namcan", "bs.uminh", "gs.chutoa", "kiemtra")
    ]
    empty = await stats(admin)
    assert empty["requests"] == 0
    assert empty["per_month"] == []
    assert empty["transfer"]["share_without_transfer"] is None

    urgent = int((await create_case(namcan, urgency="urgent"))["id"])
    emergency = int((await create_case(namcan, urgency="emergency"))["id"])
    await create_case(uminh, urgency="routine")
    await to_session(chair, urgent)
    await to_session(chair, emergency)
    # Sessions idle out while the clock moves: each step signs in again.
    clock.advance(HOUR)
    await decide(await server.sign_in("gs.chutoa"), emergency, transfer=False)
    clock.advance(HOUR)
    await decide(await server.sign_in("gs.chutoa"), urgent, transfer=True)
    clock.advance(40 * 24 * HOUR)  # into February, Vietnam time
    await create_case(await server.sign_in("bs.namcan"), urgency="routine")
    chair, admin = await server.sign_in("gs.chutoa"), await server.sign_in("kiemtra")

    figures = await stats(admin)
    assert figures["requests"] == 4
    assert [(f["facility"]["code"], f["requests"]) for f in figures["per_facility"]] == [
        ("TTYT-NAMCAN", 3),
        ("TTYT-UMINH", 1),
    ]
    assert figures["per_month"] == [
        {"month": "2026-01", "requests": 3},
        {"month": "2026-02", "requests": 1},
    ]
    by_urgency = {row["urgency"]: row for row in figures["time_to_decision"]}
    assert by_urgency["emergency"] == {
        "urgency": "emergency",
        "decided": 1,
        "median_seconds": HOUR,
        "p90_seconds": HOUR,
    }
    assert by_urgency["urgent"]["median_seconds"] == 2 * HOUR
    assert by_urgency["routine"] == {
        "urgency": "routine",
        "decided": 0,
        "median_seconds": None,
        "p90_seconds": None,
    }
    assert figures["transfer"] == {
        "decided": 2,
        "without_transfer": 1,
        "share_without_transfer": 0.5,
    }

    # An amendment replaces the answer it amends: the emergency is now transferred too.
    path = f"/api/v1/cases/{emergency}/decision"
    await call(chair, "PUT", f"{path}/draft", {**DRAFT, "transfer": True})
    await step_up(chair)
    await call(chair, "POST", f"{path}/sign", {"version": 1})
    assert (await stats(admin))["transfer"]["without_transfer"] == 0

    february = await stats(admin, "?since=2026-02-01T00:00:00%2B07:00")
    assert february["requests"] == 1
    assert february["time_to_decision"][0]["decided"] == 0


async def test_only_administrators_see_the_statistics(server: RunningServer) -> None:
    for name in ("gs.chutoa", "bs.namcan"):
        who = await server.sign_in(name)
        body = await call(who, "GET", "/api/v1/stats", expect=403)
        assert body["error"]["code"] == "forbidden"
    anonymous = server.http()
    async with anonymous.get("/api/v1/stats") as response:
        assert response.status == 401


async def test_first_answer_and_decision_are_timed_per_mode_and_urgency(
    server: RunningServer, clock: ManualClock
) -> None:
    doctor, chair = await server.sign_in("bs.namcan"), await server.sign_in("gs.chutoa")
    written = int((await create_case(doctor, urgency="emergency"))["id"])
    live = int((await create_case(doctor, urgency="emergency"))["id"])
    never = int((await create_case(doctor, urgency="emergency"))["id"])
    await act(chair, written, "accept_written", answer_by="2026-01-05T09:00:00+07:00")
    await to_session(chair, live)
    # The requesting doctor's own note is not the council's answer.
    await call(doctor, "POST", f"/api/v1/cases/{live}/notes", {"body": "Mạch 110."}, expect=201)
    assert never  # requested, never accepted: no mode, in no row

    clock.advance(HOUR)
    member = await server.sign_in("gs.timmach")
    await call(member, "POST", f"/api/v1/cases/{written}/notes", {"body": "NMCT"}, expect=201)
    clock.advance(HOUR)
    await decide(await server.sign_in("gs.chutoa"), live, transfer=True)
    clock.advance(HOUR)
    chair = await server.sign_in("gs.chutoa")
    await call(chair, "PUT", f"/api/v1/cases/{written}/decision/draft", DRAFT)
    await act(chair, written, "close_round")
    await step_up(chair)
    await call(chair, "POST", f"/api/v1/cases/{written}/decision/sign", {"version": 1})

    figures = await stats(await server.sign_in("kiemtra"))
    rows = {(r["mode"], r["urgency"]): r for r in figures["per_mode"]}
    assert len(rows) == 6
    assert rows[("written", "emergency")] == {
        "mode": "written",
        "urgency": "emergency",
        "cases": 1,
        "first_answer": {"count": 1, "median_seconds": HOUR, "p90_seconds": HOUR},
        "decision": {"count": 1, "median_seconds": 3 * HOUR, "p90_seconds": 3 * HOUR},
    }
    # The live case's first answer is the chair's draft, signed at once.
    assert rows[("live", "emergency")]["first_answer"]["median_seconds"] == 2 * HOUR
    assert rows[("live", "emergency")]["decision"]["median_seconds"] == 2 * HOUR
    assert rows[("written", "routine")] == {
        "mode": "written",
        "urgency": "routine",
        "cases": 0,
        "first_answer": {"count": 0, "median_seconds": None, "p90_seconds": None},
        "decision": {"count": 0, "median_seconds": None, "p90_seconds": None},
    }
