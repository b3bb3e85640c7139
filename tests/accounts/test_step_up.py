"""Step-up: a decision is signed only by a chair who re-entered their password moments
before; wrong passwords are audited and throttled like failed sign-ins."""

from __future__ import annotations

from datetime import datetime

from telemed.clock import ManualClock
from tests.support.api import call, step_up
from tests.support.audit import audit_rows, verify
from tests.support.cases import DRAFT, in_session_case
from tests.support.guests import guest_from, invite
from tests.support.server import RunningServer

WINDOW = 5 * 60  # TELEMED_STEP_UP_MINUTES's default, in seconds


async def test_signing_without_a_step_up_is_refused_and_audited(
    server: RunningServer, database_url: str
) -> None:
    case_id, chair = await in_session_case(server)
    base = f"/api/v1/cases/{case_id}/decision"
    await call(chair, "PUT", base + "/draft", DRAFT)
    refused = await call(chair, "POST", base + "/sign", {"version": 1}, 403)
    assert refused["error"]["code"] == "step_up_required"
    rows = await audit_rows(database_url, action="decision.sign", case_id=case_id)
    assert [(r["outcome"], r["stepped_up_at"]) for r in rows] == [("denied", None)]
    board = await call(chair, "GET", f"/api/v1/cases/{case_id}")
    assert board["status"] == "in_session"
    assert [d["status"] for d in board["decisions"]] == ["draft"]


async def test_a_recent_step_up_signs_and_its_time_is_on_the_chained_audit_row(
    server: RunningServer, clock: ManualClock, database_url: str
) -> None:
    case_id, chair = await in_session_case(server)
    base = f"/api/v1/cases/{case_id}/decision"
    await call(chair, "PUT", base + "/draft", DRAFT)
    answer = await call(
        chair, "POST", "/api/v1/session/step-up", {"password": "telemed-demo"}, cookie=True
    )
    assert datetime.fromisoformat(answer["stepped_up_at"]) == clock.now()
    assert answer["valid_for_seconds"] == WINDOW
    stepped_up_at = clock.now()
    clock.advance(WINDOW - 1)
    signed = await call(chair, "POST", base + "/sign", {"version": 1}, cookie=True)
    assert signed["status"] == "signed"
    [row] = await audit_rows(database_url, action="decision.sign", outcome="success")
    assert row["stepped_up_at"] == stepped_up_at
    [stamp] = await audit_rows(database_url, action="auth.step_up", outcome="success")
    assert stamp["actor_username"] == "gs.chutoa"
    assert (await verify(database_url)).ok


async def test_a_step_up_older_than_the_window_is_refused(
    server: RunningServer, clock: ManualClock
) -> None:
    case_id, chair = await in_session_case(server)
    base = f"/api/v1/cases/{case_id}/decision"
    await call(chair, "PUT", base + "/draft", DRAFT)
    await step_up(chair)
    clock.advance(WINDOW + 1)
    refused = await call(chair, "POST", base + "/sign", {"version": 1}, 403)
    assert refused["error"]["code"] == "step_up_required"
    await step_up(chair)
    await call(chair, "POST", base + "/sign", {"version": 1})


async def test_a_step_up_belongs_to_its_session(server: RunningServer) -> None:
    case_id, chair = await in_session_case(server)
    base = f"/api/v1/cases/{case_id}/decision"
    await call(chair, "PUT", base + "/draft", DRAFT)
    elsewhere = await server.sign_in("gs.chutoa")
    await step_up(elsewhere)
    await call(chair, "POST", base + "/sign", {"version": 1}, 403)
    await call(elsewhere, "POST", base + "/sign", {"version": 1})


async def test_an_amendment_needs_a_step_up_too(server: RunningServer, clock: ManualClock) -> None:
    case_id, chair = await in_session_case(server)
    base = f"/api/v1/cases/{case_id}/decision"
    await call(chair, "PUT", base + "/draft", DRAFT)
    await step_up(chair)
    await call(chair, "POST", base + "/sign", {"version": 1})
    clock.advance(WINDOW + 1)
    await call(chair, "PUT", base + "/draft", {**DRAFT, "follow_up": "Tái khám sau 2 tuần."})
    refused = await call(chair, "POST", base + "/sign", {"version": 1}, 403)
    assert refused["error"]["code"] == "step_up_required"
    await step_up(chair)
    amended = await call(chair, "POST", base + "/sign", {"version": 1})
    assert amended["amends"] is not None


async def test_wrong_passwords_are_audited_and_throttled_like_sign_ins(
    server: RunningServer, database_url: str
) -> None:
    chair = await server.sign_in("gs.chutoa")
    for _ in range(5):  # TELEMED_LOGIN_MAX_FAILURES_PER_ACCOUNT's default
        wrong = await call(chair, "POST", "/api/v1/session/step-up", {"password": "x"}, 403)
        assert wrong["error"]["code"] == "wrong_password"
    # The session stays, and the account is now locked for step-ups and sign-ins alike.
    await call(chair, "GET", "/api/v1/me")
    locked = await call(chair, "POST", "/api/v1/session/step-up", {"password": "telemed-demo"}, 429)
    assert locked["error"]["code"] == "too_many_attempts"
    async with server.http().post(
        "/api/v1/auth/login", json={"username": "gs.chutoa", "password": "telemed-demo"}
    ) as response:
        assert response.status == 429
    rows = await audit_rows(database_url, action="auth.step_up_failed")
    assert [(r["outcome"], r["actor_username"]) for r in rows] == [("denied", "gs.chutoa")] * 6


async def test_a_guest_cannot_step_up(server: RunningServer) -> None:
    case_id, chair = await in_session_case(server)
    guest = await guest_from(server, await invite(chair, case_id))
    body = {"password": "telemed-demo"}
    assert await guest.status("POST", "/api/v1/session/step-up", body) == 403
