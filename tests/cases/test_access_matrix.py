"""Every role, from every facility and council, against every case action.

Outsiders (another facility's doctor, another council's member) get 404 exactly like a
missing case; insiders without the right get 403; the administrator sees metadata only.
A refused action changes nothing; each allowed one succeeds.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from tests.support.api import call, step_up
from tests.support.cases import CASE_AT, DRAFT
from tests.support.server import RunningServer, SignedIn

USERS = ["bs.namcan", "bs.uminh", "gs.chutoa", "ts.thuky", "gs.timmach", "gs.thankinh", "kiemtra"]
OUTSIDERS = {"bs.uminh", "gs.thankinh"}

People = dict[str, SignedIn]


def _transition(action: str, **fields: Any) -> tuple[str, str, dict[str, Any]]:
    return ("POST", "/transitions", {"action": action, **fields})


@dataclass(frozen=True)
class Action:
    name: str
    setup: Callable[[People], Awaitable[int]]
    request: tuple[str, str, Any]
    allowed: frozenset[str]
    success: int = 200


ACTIONS = [
    Action(
        "read",
        CASE_AT["requested"],
        ("GET", "", None),
        frozenset({"bs.namcan", "gs.chutoa", "ts.thuky", "gs.timmach", "kiemtra"}),
    ),
    Action(
        "events",
        CASE_AT["requested"],
        ("GET", "/events", None),
        frozenset({"bs.namcan", "gs.chutoa", "ts.thuky", "gs.timmach"}),
    ),
    Action(
        "note",
        CASE_AT["requested"],
        ("POST", "/notes", {"body": "ý kiến"}),
        frozenset({"bs.namcan", "gs.chutoa", "ts.thuky", "gs.timmach"}),
        201,
    ),
    Action(
        "accept", CASE_AT["requested"], _transition("accept"), frozenset({"gs.chutoa", "ts.thuky"})
    ),
    Action(
        "decline",
        CASE_AT["requested"],
        _transition("decline", reason="r"),
        frozenset({"gs.chutoa", "ts.thuky"}),
    ),
    Action(
        "request_info",
        CASE_AT["requested"],
        _transition("request_info", message="m"),
        frozenset({"gs.chutoa", "ts.thuky"}),
    ),
    Action(
        "provide_info",
        CASE_AT["info_requested"],
        _transition("provide_info", message="m"),
        frozenset({"bs.namcan"}),
    ),
    Action("cancel", CASE_AT["requested"], _transition("cancel"), frozenset({"bs.namcan"})),
    Action(
        "schedule",
        CASE_AT["accepted"],
        _transition("schedule", scheduled_at="2026-01-03T09:00:00+07:00"),
        frozenset({"gs.chutoa", "ts.thuky"}),
    ),
    Action(
        "start_session",
        CASE_AT["scheduled"],
        _transition("start_session"),
        frozenset({"gs.chutoa", "ts.thuky"}),
    ),
    Action(
        "draft",
        CASE_AT["in_session"],
        ("PUT", "/decision/draft", DRAFT),
        frozenset({"gs.chutoa", "ts.thuky"}),
    ),
    Action(
        "opine",
        CASE_AT["drafted"],
        ("POST", "/decision/opinions", {"version": 1, "stance": "concur"}),
        frozenset({"gs.chutoa", "ts.thuky", "gs.timmach"}),
    ),
    Action(
        "sign",
        CASE_AT["drafted"],
        ("POST", "/decision/sign", {"version": 1}),
        frozenset({"gs.chutoa", "ts.thuky"}),
    ),
    Action(
        "close",
        CASE_AT["decided"],
        _transition("close", outcome="ổn định"),
        frozenset({"bs.namcan"}),
    ),
]


@pytest.fixture
async def people(server: RunningServer) -> People:
    people = await server.sign_in_all(USERS)
    for who in people.values():
        await step_up(who)  # whoever may sign has just confirmed their password
    return people


async def _last_seq(p: People, case_id: int) -> int:
    return int((await call(p["bs.namcan"], "GET", f"/api/v1/cases/{case_id}"))["last_seq"])


@pytest.mark.parametrize("action", ACTIONS, ids=lambda a: a.name)
async def test_role_matrix(people: People, action: Action) -> None:
    method, suffix, body = action.request
    case_id = await action.setup(people)
    path = f"/api/v1/cases/{case_id}{suffix}"
    missing = await call(people["bs.uminh"], "GET", "/api/v1/cases/987654", expect=404)
    before = await _last_seq(people, case_id)
    for user in USERS:
        if user in action.allowed:
            continue
        expected = 404 if user in OUTSIDERS else 403
        answer = await call(people[user], method, path, body, expect=expected)
        if expected == 404:
            assert answer == missing, (action.name, user)
        else:
            assert answer["error"]["code"] == "forbidden", (action.name, user)
    assert await _last_seq(people, case_id) == before, "a refused action changed the case"
    for user in sorted(action.allowed):
        target = case_id if method == "GET" else await action.setup(people)
        await call(
            people[user], method, f"/api/v1/cases/{target}{suffix}", body, expect=action.success
        )
