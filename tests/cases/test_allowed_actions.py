"""``allowed_actions`` says exactly what the services accept: at every stage of a case, for
every participant, each action it lists succeeds and each one it leaves out is refused.

The case page shows only what ``allowed_actions`` lists (it keeps no copy of the rules), so
this is what keeps the page's buttons true to the server.
"""

from __future__ import annotations

import io
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from PIL import Image

from tests.support.api import call, step_up
from tests.support.cases import CASE_AT, DRAFT, act
from tests.support.server import RunningServer, SignedIn

Json = dict[str, Any]
PARTICIPANTS = ["bs.namcan", "gs.chutoa", "ts.thuky", "gs.timmach"]
People = dict[str, SignedIn]
Setup = Callable[[People], Awaitable[int]]
# A written round's deadline, days after the manual clock's start.
ANSWER_BY = "2026-01-04T09:00:00+07:00"


async def _drafted_early(p: People) -> int:
    """A draft before the session: it may be edited, not signed."""
    case_id = await CASE_AT["accepted"](p)
    await call(p["gs.chutoa"], "PUT", f"/api/v1/cases/{case_id}/decision/draft", DRAFT)
    return case_id


async def _amending(p: People) -> int:
    case_id = await CASE_AT["decided"](p)
    await call(p["ts.thuky"], "PUT", f"/api/v1/cases/{case_id}/decision/draft", DRAFT)
    return case_id


async def _written(p: People) -> int:
    case_id = await CASE_AT["requested"](p)
    await act(p["gs.chutoa"], case_id, "accept_written", answer_by=ANSWER_BY)
    return case_id


async def _written_drafted(p: People) -> int:
    """A written consultation whose draft no member has answered: not signed yet."""
    case_id = await _written(p)
    await call(p["gs.chutoa"], "PUT", f"/api/v1/cases/{case_id}/decision/draft", DRAFT)
    return case_id


async def _written_answered(p: People) -> int:
    """Every member but the chair has answered: the chair may sign, the secretary not."""
    case_id = await _written_drafted(p)
    for name in ("ts.thuky", "gs.timmach"):
        await call(
            p[name],
            "POST",
            f"/api/v1/cases/{case_id}/decision/opinions",
            {"version": 1, "stance": "concur"},
        )
    return case_id


async def _round_closed(p: People) -> int:
    case_id = await _written_drafted(p)
    await act(p["gs.chutoa"], case_id, "close_round")
    return case_id


STAGES: dict[str, Setup] = {
    "requested": CASE_AT["requested"],
    "info_requested": CASE_AT["info_requested"],
    "accepted": CASE_AT["accepted"],
    "drafted_early": _drafted_early,
    "written": _written,
    "written_drafted": _written_drafted,
    "written_answered": _written_answered,
    "round_closed": _round_closed,
    "scheduled": CASE_AT["scheduled"],
    "in_session": CASE_AT["in_session"],
    "drafted": CASE_AT["drafted"],
    "decided": CASE_AT["decided"],
    "amending": _amending,
    "closed": CASE_AT["closed"],
    "declined": CASE_AT["declined"],
    "cancelled": CASE_AT["cancelled"],
}


async def _status(who: SignedIn, method: str, path: str, body: object = None) -> int:
    async with who.http.request(method, path, json=body, headers=who.bearer) as response:
        await response.read()
        return response.status


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (16, 8), (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


async def _upload(who: SignedIn, path: str) -> int:
    form = aiohttp.FormData()
    form.add_field("file", _png(), filename="ecg.png", content_type="image/png")
    async with who.http.post(path + "/attachments", data=form, headers=who.bearer) as response:
        await response.read()
        return response.status


async def _draft_version(who: SignedIn, path: str) -> int:
    """The open draft's version, 0 if there is none (which starts one)."""
    board = await call(who, "GET", path)
    drafts = [d for d in board["decisions"] if d["status"] == "draft"]
    return int(drafts[-1]["version"]) if drafts else 0


Attempt = Callable[[SignedIn, str], Awaitable[int]]


def _transition(action: str, **fields: Any) -> Attempt:
    async def attempt(who: SignedIn, path: str) -> int:
        return await _status(who, "POST", path + "/transitions", {"action": action, **fields})

    return attempt


async def _note(who: SignedIn, path: str) -> int:
    return await _status(who, "POST", path + "/notes", {"body": "ý kiến"})


async def _draft(who: SignedIn, path: str) -> int:
    body = {**DRAFT, "version": await _draft_version(who, path)}
    return await _status(who, "PUT", path + "/decision/draft", body)


async def _sign(who: SignedIn, path: str) -> int:
    body = {"version": await _draft_version(who, path) or 1}
    return await _status(who, "POST", path + "/decision/sign", body)


async def _opine(who: SignedIn, path: str) -> int:
    body = {"version": await _draft_version(who, path) or 1, "stance": "concur"}
    return await _status(who, "POST", path + "/decision/opinions", body)


async def _invite(who: SignedIn, path: str) -> int:
    return await _status(who, "POST", path + "/invites", {"name": "Khách"})


@dataclass(frozen=True)
class Action:
    names: frozenset[str]  # the allowed_actions entries that each mean "this succeeds"
    attempt: Attempt
    keeps_state: bool = False  # what it changes changes nothing allowed_actions depends on


ACTIONS = [
    Action(frozenset({"note"}), _note, keeps_state=True),
    Action(frozenset({"attach"}), _upload, keeps_state=True),
    Action(frozenset({"opine"}), _opine, keeps_state=True),
    Action(frozenset({"accept"}), _transition("accept")),
    Action(frozenset({"accept_written"}), _transition("accept_written", answer_by=ANSWER_BY)),
    Action(
        frozenset({"continue_in_writing"}),
        _transition("continue_in_writing", answer_by=ANSWER_BY),
    ),
    Action(frozenset({"close_round"}), _transition("close_round")),
    Action(frozenset({"decline"}), _transition("decline", reason="r")),
    Action(frozenset({"request_info"}), _transition("request_info", message="m")),
    Action(frozenset({"provide_info"}), _transition("provide_info", message="m")),
    Action(
        frozenset({"schedule"}), _transition("schedule", scheduled_at="2026-01-05T09:00:00+07:00")
    ),
    Action(frozenset({"start_session"}), _transition("start_session")),
    Action(frozenset({"close"}), _transition("close", outcome="o")),
    Action(frozenset({"cancel"}), _transition("cancel")),
    # One request starts or edits a draft; after the decision it starts an amendment.
    Action(frozenset({"draft_decision", "amend_decision"}), _draft),
    Action(frozenset({"sign_decision"}), _sign),
    Action(frozenset({"invite_guest"}), _invite, keeps_state=True),
]
TRIED = frozenset().union(*(action.names for action in ACTIONS))
CALL_ACTIONS = frozenset({"join_call", "admit", "record"})


@pytest.fixture
def backend() -> str:
    # Rules on a principal and a case: no database behaviour to prove twice.
    return "sqlite"


@pytest.fixture
async def people(server: RunningServer) -> People:
    people = {name: await server.sign_in(name) for name in PARTICIPANTS}
    for who in people.values():
        await step_up(who)  # whoever may sign has just confirmed their password
    return people


async def _allowed(who: SignedIn, case_id: int) -> list[str]:
    answer = await call(who, "GET", f"/api/v1/cases/{case_id}/actions")
    assert answer["case_id"] == case_id
    allowed: list[str] = answer["allowed_actions"]
    assert allowed == (await call(who, "GET", f"/api/v1/cases/{case_id}"))["allowed_actions"]
    return allowed


@pytest.mark.parametrize("stage", list(STAGES))
async def test_each_listed_action_succeeds_and_each_other_is_refused(
    people: People, stage: str
) -> None:
    setup = STAGES[stage]
    for user in PARTICIPANTS:
        who = people[user]
        case_id = await setup(people)
        allowed = await _allowed(who, case_id)
        assert len(allowed) == len(set(allowed)), allowed
        assert set(allowed) <= TRIED | CALL_ACTIONS, allowed
        assert not {"draft_decision", "amend_decision"} <= set(allowed), allowed
        for action in ACTIONS:
            status = await action.attempt(who, f"/api/v1/cases/{case_id}")
            listed = bool(action.names & set(allowed))
            assert (status in (200, 201)) == listed, (stage, user, sorted(action.names), status)
            if listed and not action.keeps_state:
                case_id = await setup(people)  # the next attempt starts from the stage again
            elif listed:
                assert await _allowed(who, case_id) == allowed


async def test_the_call_is_offered_while_scheduled_or_in_session_and_run_by_triage(
    people: People,
) -> None:
    for stage, setup in STAGES.items():
        case_id = await setup(people)
        for user in PARTICIPANTS:
            offered = CALL_ACTIONS & set(await _allowed(people[user], case_id))
            expected: set[str] = set()
            if stage in ("scheduled", "in_session", "drafted"):
                expected.add("join_call")
            if stage in ("in_session", "drafted") and user in ("gs.chutoa", "ts.thuky"):
                expected |= {"admit", "record"}
            assert offered == expected, (stage, user)


async def test_a_guest_may_join_the_call_and_nothing_else_and_outsiders_learn_nothing(
    server: RunningServer, people: People
) -> None:
    case_id = await CASE_AT["in_session"](people)
    invitation = await call(
        people["gs.chutoa"], "POST", f"/api/v1/cases/{case_id}/invites", {"name": "Khách"}, 201
    )
    token = invitation["url"].rsplit("/join/", 1)[1]
    async with server.http().post("/api/v1/guests/redeem", json={"token": token}) as response:
        assert response.status == 200
        redeemed = await response.json()
    guest = SignedIn("guest", redeemed["token"], "", redeemed["user"], server.http())
    path = f"/api/v1/cases/{case_id}/actions"
    answer = await call(guest, "GET", path)
    assert answer == {
        "case_id": case_id,
        "status": "in_session",
        "mode": "live",
        "last_seq": answer["last_seq"],
        "allowed_actions": ["join_call"],
        "written_round": None,
        "deadlines": answer["deadlines"],
    }
    other = await CASE_AT["requested"](people)
    await call(guest, "GET", f"/api/v1/cases/{other}/actions", expect=404)
    missing = await call(people["bs.namcan"], "GET", "/api/v1/cases/987654/actions", expect=404)
    outsider = await server.sign_in("bs.uminh")
    assert await call(outsider, "GET", path, expect=404) == missing
    auditor = await server.sign_in("kiemtra")  # sees the metadata, not the board
    assert (await call(auditor, "GET", path, expect=403))["error"]["code"] == "forbidden"
