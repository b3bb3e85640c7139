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

from tests.support.api import call
from tests.support.cases import DRAFT, act, create_case, to_session
from tests.support.server import RunningServer, SignedIn

USERS = ["bs.namcan", "bs.uminh", "gs.chutoa", "ts.thuky", "gs.timmach", "gs.thankinh", "kiemtra"]
OUTSIDERS = {"bs.uminh", "gs.thankinh"}

People = dict[str, SignedIn]


async def _requested(p: People) -> int:
    return int((await create_case(p["bs.namcan"]))["id"])


async def _info_requested(p: People) -> int:
    case_id = await _requested(p)
    await act(p["gs.chutoa"], case_id, "request_info", message="?")
    return case_id


async def _accepted(p: People) -> int:
    case_id = await _requested(p)
    await act(p["gs.chutoa"], case_id, "accept")
    return case_id


async def _scheduled(p: People) -> int:
    case_id = await _accepted(p)
    await act(p["gs.chutoa"], case_id, "schedule", scheduled_at="2026-01-02T09:00:00+07:00")
    return case_id


async def _in_session(p: People) -> int:
    case_id = await _requested(p)
    await to_session(p["gs.chutoa"], case_id)
    return case_id


async def _drafted(p: People) -> int:
    case_id = await _in_session(p)
    await call(p["gs.chutoa"], "PUT", f"/api/v1/cases/{case_id}/decision/draft", DRAFT)
    return case_id


async def _decided(p: People) -> int:
    case_id = await _drafted(p)
    await call(p["gs.chutoa"], "POST", f"/api/v1/cases/{case_id}/decision/sign", {"version": 1})
    return case_id


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
        _requested,
        ("GET", "", None),
        frozenset({"bs.namcan", "gs.chutoa", "ts.thuky", "gs.timmach", "kiemtra"}),
    ),
    Action(
        "events",
        _requested,
        ("GET", "/events", None),
        frozenset({"bs.namcan", "gs.chutoa", "ts.thuky", "gs.timmach"}),
    ),
    Action(
        "note",
        _requested,
        ("POST", "/notes", {"body": "ý kiến"}),
        frozenset({"bs.namcan", "gs.chutoa", "ts.thuky", "gs.timmach"}),
        201,
    ),
    Action("accept", _requested, _transition("accept"), frozenset({"gs.chutoa", "ts.thuky"})),
    Action(
        "decline",
        _requested,
        _transition("decline", reason="r"),
        frozenset({"gs.chutoa", "ts.thuky"}),
    ),
    Action(
        "request_info",
        _requested,
        _transition("request_info", message="m"),
        frozenset({"gs.chutoa", "ts.thuky"}),
    ),
    Action(
        "provide_info",
        _info_requested,
        _transition("provide_info", message="m"),
        frozenset({"bs.namcan"}),
    ),
    Action("cancel", _requested, _transition("cancel"), frozenset({"bs.namcan"})),
    Action(
        "schedule",
        _accepted,
        _transition("schedule", scheduled_at="2026-01-03T09:00:00+07:00"),
        frozenset({"gs.chutoa", "ts.thuky"}),
    ),
    Action(
        "start_session",
        _scheduled,
        _transition("start_session"),
        frozenset({"gs.chutoa", "ts.thuky"}),
    ),
    Action(
        "draft",
        _in_session,
        ("PUT", "/decision/draft", DRAFT),
        frozenset({"gs.chutoa", "ts.thuky"}),
    ),
    Action(
        "opine",
        _drafted,
        ("POST", "/decision/opinions", {"version": 1, "stance": "concur"}),
        frozenset({"gs.chutoa", "ts.thuky", "gs.timmach"}),
    ),
    Action(
        "sign",
        _drafted,
        ("POST", "/decision/sign", {"version": 1}),
        frozenset({"gs.chutoa", "ts.thuky"}),
    ),
    Action("close", _decided, _transition("close", outcome="ổn định"), frozenset({"bs.namcan"})),
]


@pytest.fixture
async def people(server: RunningServer) -> People:
    return await server.sign_in_all(USERS)


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
