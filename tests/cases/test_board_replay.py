"""Property: for any sequence of actions, replaying the case's log rebuilds exactly the
board the API returns, and the log's seqs run 1..N with no gap or duplicate, also when
several writers act at once."""

from __future__ import annotations

import asyncio
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from telemed.cases.board import replay
from tests.support.api import call, step_up
from tests.support.cases import DRAFT, create_case
from tests.support.server import RunningServer

ACTORS = ["bs.namcan", "gs.chutoa", "ts.thuky", "gs.timmach"]

# (actor, method, path suffix, body); every step is tried whatever the case's state:
# refused steps must leave no trace, allowed ones must show in both views.
STEPS: list[tuple[str, str, str, Any]] = [
    ("bs.namcan", "POST", "/notes", {"body": "Ghi chú của tuyến huyện"}),
    ("gs.timmach", "POST", "/notes", {"body": "**Ý kiến** tim mạch", "question": 1}),
    ("gs.chutoa", "POST", "/notes", {"body": "Ý kiến chủ tọa", "client_id": "fixed-id"}),
    ("bs.namcan", "POST", "/notes", {"body": "Sửa lại", "supersedes": 1}),
    ("gs.chutoa", "POST", "/transitions", {"action": "accept"}),
    ("ts.thuky", "POST", "/transitions", {"action": "request_info", "message": "Thêm XN"}),
    ("bs.namcan", "POST", "/transitions", {"action": "provide_info", "message": "Đã có"}),
    (
        "gs.chutoa",
        "POST",
        "/transitions",
        {"action": "schedule", "scheduled_at": "2026-02-01T08:00:00+07:00"},
    ),
    ("gs.chutoa", "POST", "/transitions", {"action": "start_session"}),
    ("gs.chutoa", "PUT", "/decision/draft", DRAFT),
    ("ts.thuky", "PUT", "/decision/draft", {**DRAFT, "version": 1, "transfer": False}),
    ("gs.timmach", "POST", "/decision/opinions", {"version": 1, "stance": "concur"}),
    (
        "gs.timmach",
        "POST",
        "/decision/opinions",
        {"version": 2, "stance": "dissent", "reason": "Chưa rõ"},
    ),
    ("gs.chutoa", "POST", "/decision/sign", {"version": 1}),
    ("gs.chutoa", "POST", "/decision/sign", {"version": 2}),
    ("bs.namcan", "POST", "/transitions", {"action": "close", "outcome": "Ổn định"}),
    ("bs.namcan", "POST", "/transitions", {"action": "cancel"}),
]

step_indexes = st.lists(st.integers(0, len(STEPS) - 1), min_size=1, max_size=14)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(plan=st.lists(step_indexes, min_size=1, max_size=3))
async def test_replaying_the_log_rebuilds_the_board(
    server: RunningServer, plan: list[list[int]]
) -> None:
    people = {name: await server.sign_in(name) for name in ACTORS}
    await step_up(people["gs.chutoa"])  # the chair signs in some plans
    case_id = (await create_case(people["bs.namcan"]))["id"]
    base = f"/api/v1/cases/{case_id}"
    for batch in plan:
        # Each batch runs concurrently: several writers on one case at once.
        await asyncio.gather(
            *(
                call(people[STEPS[i][0]], STEPS[i][1], base + STEPS[i][2], STEPS[i][3], expect=None)
                for i in batch
            )
        )
    board = await call(people["bs.namcan"], "GET", base)
    del board["allowed_actions"]  # what its reader may do: not in the log
    del board["deadlines"]  # computed from the clock and the settings: not in the log
    log = await call(people["gs.chutoa"], "GET", base + "/events?after=0&limit=5000")
    seqs = [event["seq"] for event in log["events"]]
    assert seqs == list(range(1, board["last_seq"] + 1))
    assert replay(log["events"]) == board
