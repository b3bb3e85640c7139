"""Every HTTP route and every Socket.IO event of the application leaves exactly the
expected audit row, for success and for refusal.

The routes and events are read from the live router and namespace: a handler added later
fails here until it is classified below, either with the rows it must write or, for the
few that touch no case, account or audit data, with the reason it writes none.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import func, select

from telemed import appkeys
from telemed.audit.models import AuditRecord
from tests.support.api import call, step_up
from tests.support.attachments import dicom_bytes, png_bytes, upload
from tests.support.cases import DRAFT, NEW_CASE, create_case, to_scheduled, to_session
from tests.support.participants import Participant, participant
from tests.support.server import RunningServer, SignedIn

Row = tuple[str, str, str | None]  # action, outcome, actor username


@dataclass
class World:
    server: RunningServer
    people: dict[str, SignedIn]

    async def case(self, stage: str = "requested") -> int:
        case_id = int((await create_case(self.people["bs.namcan"]))["id"])
        chair = self.people["gs.chutoa"]
        if stage == "scheduled":
            await to_scheduled(chair, case_id)
        if stage in ("in_session", "drafted"):
            await to_session(chair, case_id)
        if stage == "drafted":
            path = f"/api/v1/cases/{case_id}/decision/draft"
            async with chair.http.put(path, json=DRAFT, headers=chair.bearer) as response:
                assert response.status == 200
            await step_up(chair)  # ready to sign
        return case_id

    async def attachment(self, content: bytes) -> tuple[int, int]:
        case_id = await self.case()
        stored = await upload(self.people["bs.namcan"], case_id, content, "scan.dcm")
        return case_id, int(stored["id"])


async def _http(
    who: SignedIn | None, world: World, method: str, path: str, body: Any = None
) -> int:
    http = who.http if who else world.server.http()
    headers = who.bearer if who else {}
    async with http.request(method, path, json=body, headers=headers) as response:
        await response.read()
        return response.status


# A scenario first prepares what it needs (which writes rows of its own), then returns
# the one measured call: every row written after preparation must be that call's.
Act = Callable[[], Awaitable[int]]
Call = Callable[[World], Awaitable[Act]]


def http_call(
    who: str | None, method: str, path: str, body: Any = None, stage: str = "requested"
) -> Call:
    async def prepare(world: World) -> Act:
        case_id, attachment_id = 0, 0
        if "{attachment}" in path:
            case_id, attachment_id = await world.attachment(dicom_bytes())
        elif "{case}" in path:
            case_id = await world.case(stage)
        target = path.format(case=case_id, attachment=attachment_id)
        caller = world.people[who] if who else None
        return lambda: _http(caller, world, method, target, body)

    return prepare


def upload_call(who: str) -> Call:
    async def prepare(world: World) -> Act:
        case_id = await world.case()
        expect = 201 if who == "bs.namcan" else 404

        async def act() -> int:
            await upload(world.people[who], case_id, png_bytes(), "anh.png", expect=expect)
            return expect

        return act

    return prepare


def login_call(password: str) -> Call:
    async def prepare(world: World) -> Act:
        body = {"username": "bs.namcan", "password": password}
        return lambda: _http(None, world, "POST", "/api/v1/auth/login", body)

    return prepare


def logout_call() -> Call:
    async def prepare(world: World) -> Act:
        fresh = await world.server.sign_in("gs.timmach")
        return lambda: _http(fresh, world, "POST", "/api/v1/auth/logout")

    return prepare


def socket_call(
    who: str,
    event: str,
    payload: Callable[[int], dict[str, Any]],
    join: bool = False,
    stage: str = "requested",
    before: tuple[tuple[str, dict[str, Any]], ...] = (),
) -> Call:
    """``who`` sends ``event``; first the case reaches ``stage``, ``who`` joins its room
    (``join``) and sends the ``before`` messages (each with the case id added)."""

    async def prepare(world: World) -> Act:
        case_id = await world.case(stage)
        member = await participant(world.server, who)
        if join:
            assert (await member.join(case_id))["ok"] is True
        for name, data in before:
            ack = await member.request(name, {"case_id": case_id, **data})
            assert ack["ok"] is True, (name, ack)

        async def act() -> int:
            ack = await member.request(event, payload(case_id))
            return 200 if ack["ok"] else 400

        return act

    return prepare


async def invited(world: World) -> tuple[int, str]:
    """An in-session case and a fresh guest invitation to it: (case id, token)."""
    case_id = await world.case("in_session")
    body = {"name": "Guest specialist"}
    made = await call(
        world.people["gs.chutoa"], "POST", f"{C}/invites".format(case=case_id), body, 201
    )
    return case_id, str(made["url"]).rsplit("/", 1)[1]


def revoke_call(who: str) -> Call:
    """Revoking a fresh invitation to an in-session case."""

    async def prepare(world: World) -> Act:
        case_id, _token = await invited(world)
        path = f"{C}/invites".format(case=case_id)
        items = (await call(world.people["gs.chutoa"], "GET", path))["items"]
        target = f"{path}/{items[0]['id']}"
        return lambda: _http(world.people[who], world, "DELETE", target)

    return prepare


def guest_call(valid: bool = True) -> Call:
    """Redeeming a guest link through the API (the landing page's Join button)."""

    async def prepare(world: World) -> Act:
        _case_id, token = await invited(world)
        token = token if valid else "x" * 43
        return lambda: _http(None, world, "POST", "/api/v1/guests/redeem", {"token": token})

    return prepare


async def guest_in_lobby(world: World) -> tuple[int, Participant]:
    """A guest waiting in the lobby of an in-session case's call."""
    case_id, token = await invited(world)
    http = world.server.http()
    async with http.post("/api/v1/guests/redeem", json={"token": token}) as response:
        assert response.status == 200
        login = await response.json()
    guest = Participant("guest", login["token"], world.server.url, world.server.socket())
    guest.listen()
    await guest.connect()
    assert (await guest.join(case_id))["ok"] is True
    assert (await guest.request("call:join", {"case_id": case_id}))["state"] == "lobby"
    return case_id, guest


def admit_call(who: str) -> Call:
    async def prepare(world: World) -> Act:
        case_id, guest = await guest_in_lobby(world)
        peer_id = (await guest.request("call:join", {"case_id": case_id}))["peer_id"]
        admitter = await participant(world.server, who)
        assert (await admitter.join(case_id))["ok"] is True

        async def act() -> int:
            ack = await admitter.request("call:admit", {"case_id": case_id, "peer_id": peer_id})
            return 200 if ack["ok"] else 400

        return act

    return prepare


@dataclass(frozen=True)
class Expect:
    success: Call
    success_rows: list[Row]
    refusal: Call | None = None
    refusal_rows: list[Row] | None = None
    why_no_refusal: str = ""


@dataclass(frozen=True)
class NotAudited:
    why: str


C = "/api/v1/cases/{case}"
A = "/api/v1/audit"
AD = "/api/v1/admin"
# Ids of the demo network as the test databases hold it (created in this order).
UMINH, THANKINH, TIMMACH, TW = 2, 6, 5, 2
NEW_USER = {
    "username": "bs.moi",
    "full_name": "BS. Mới",
    "role": "district_doctor",
    "facility": "TTYT-NAMCAN",
    "password": "mot-mat-khau-dai",
}
NEW_PASSWORD = {"current_password": "telemed-demo", "new_password": "mot-mat-khau-dai"}

HTTP: dict[tuple[str, str], Expect | NotAudited] = {
    ("POST", "/api/v1/auth/login"): Expect(
        login_call("telemed-demo"),
        [("auth.login", "success", "bs.namcan")],
        login_call("wrong-password"),
        [("auth.login_failed", "denied", "bs.namcan")],
    ),
    ("POST", "/api/v1/auth/logout"): Expect(
        logout_call(),
        [("auth.logout", "success", "gs.timmach")],
        why_no_refusal="an unauthenticated request has no one to attribute it to (answered 401)",
    ),
    ("GET", "/api/v1/me"): NotAudited("reads only the caller's own account"),
    ("POST", "/api/v1/session/step-up"): Expect(
        http_call("gs.timmach", "POST", "/api/v1/session/step-up", {"password": "telemed-demo"}),
        [("auth.step_up", "success", "gs.timmach")],
        http_call("bs.uminh", "POST", "/api/v1/session/step-up", {"password": "wrong"}),
        [("auth.step_up_failed", "denied", "bs.uminh")],
    ),
    ("GET", "/api/v1/openapi.json"): NotAudited("the public API description"),
    ("GET", "/api/v1/signing/ca.pem"): NotAudited("the public certificate that signs minutes"),
    ("POST", "/api/v1/cases"): Expect(
        http_call("bs.namcan", "POST", "/api/v1/cases", NEW_CASE),
        [("case.create", "success", "bs.namcan")],
        http_call("gs.chutoa", "POST", "/api/v1/cases", NEW_CASE),
        [("case.create", "denied", "gs.chutoa")],
    ),
    ("GET", "/api/v1/cases"): Expect(
        http_call("gs.chutoa", "GET", "/api/v1/cases"),
        [("case.list", "success", "gs.chutoa")],
        http_call("gs.chutoa", "GET", "/api/v1/cases?cursor=bad"),
        [("case.list", "error", "gs.chutoa")],
    ),
    ("GET", "/api/v1/cases/{case_id}"): Expect(
        http_call("gs.timmach", "GET", C),
        [("case.read", "success", "gs.timmach")],
        http_call("bs.uminh", "GET", C),
        [("case.read", "denied", "bs.uminh")],
    ),
    ("GET", "/api/v1/cases/{case_id}/actions"): Expect(
        http_call("gs.timmach", "GET", C + "/actions"),
        [("case.actions", "success", "gs.timmach")],
        http_call("kiemtra", "GET", C + "/actions"),
        [("case.actions", "denied", "kiemtra")],
    ),
    ("GET", "/api/v1/cases/{case_id}/events"): Expect(
        http_call("gs.timmach", "GET", C + "/events"),
        [("case.events", "success", "gs.timmach")],
        http_call("kiemtra", "GET", C + "/events"),
        [("case.events", "denied", "kiemtra")],
    ),
    ("GET", "/api/v1/cases/{case_id}/notes"): Expect(
        http_call("gs.timmach", "GET", C + "/notes"),
        [("case.notes", "success", "gs.timmach")],
        http_call("kiemtra", "GET", C + "/notes"),
        [("case.notes", "denied", "kiemtra")],
    ),
    ("POST", "/api/v1/cases/{case_id}/notes"): Expect(
        http_call("gs.timmach", "POST", C + "/notes", {"body": "x"}),
        [("note.create", "success", "gs.timmach")],
        http_call("gs.thankinh", "POST", C + "/notes", {"body": "x"}),
        [("note.create", "denied", "gs.thankinh")],
    ),
    ("POST", "/api/v1/cases/{case_id}/transitions"): Expect(
        http_call("ts.thuky", "POST", C + "/transitions", {"action": "accept"}),
        [("case.accept", "success", "ts.thuky")],
        http_call("gs.timmach", "POST", C + "/transitions", {"action": "accept"}),
        [("case.accept", "denied", "gs.timmach")],
    ),
    ("PUT", "/api/v1/cases/{case_id}/decision/draft"): Expect(
        http_call("gs.chutoa", "PUT", C + "/decision/draft", DRAFT, "in_session"),
        [("decision.draft", "success", "gs.chutoa")],
        http_call("gs.timmach", "PUT", C + "/decision/draft", DRAFT, "in_session"),
        [("decision.draft", "denied", "gs.timmach")],
    ),
    ("POST", "/api/v1/cases/{case_id}/decision/opinions"): Expect(
        http_call(
            "gs.timmach",
            "POST",
            C + "/decision/opinions",
            {"version": 1, "stance": "concur"},
            "drafted",
        ),
        [("decision.concur", "success", "gs.timmach")],
        http_call(
            "bs.namcan",
            "POST",
            C + "/decision/opinions",
            {"version": 1, "stance": "dissent", "reason": "r"},
            "drafted",
        ),
        [("decision.dissent", "denied", "bs.namcan")],
    ),
    ("POST", "/api/v1/cases/{case_id}/decision/sign"): Expect(
        http_call("gs.chutoa", "POST", C + "/decision/sign", {"version": 1}, "drafted"),
        [("decision.sign", "success", "gs.chutoa")],
        http_call("gs.timmach", "POST", C + "/decision/sign", {"version": 1}, "drafted"),
        [("decision.sign", "denied", "gs.timmach")],
    ),
    ("GET", "/api/v1/cases/{case_id}/minutes"): Expect(
        http_call("bs.namcan", "GET", C + "/minutes"),
        [("minutes.read", "success", "bs.namcan")],
        http_call("bs.uminh", "GET", C + "/minutes"),
        [("minutes.read", "denied", "bs.uminh")],
    ),
    ("GET", "/api/v1/cases/{case_id}/minutes.pdf"): Expect(
        http_call("bs.namcan", "GET", C + "/minutes.pdf"),
        [("minutes.pdf", "success", "bs.namcan")],
        http_call("kiemtra", "GET", C + "/minutes.pdf"),
        [("minutes.pdf", "denied", "kiemtra")],
    ),
    ("GET", "/api/v1/cases/{case_id}/fhir"): Expect(
        http_call("gs.chutoa", "GET", C + "/fhir"),
        [("case.fhir_export", "success", "gs.chutoa")],
        http_call("gs.thankinh", "GET", C + "/fhir"),
        [("case.fhir_export", "denied", "gs.thankinh")],
    ),
    ("POST", "/api/v1/cases/{case_id}/attachments"): Expect(
        upload_call("bs.namcan"),
        [("attachment.upload", "success", "bs.namcan")],
        upload_call("bs.uminh"),
        [("attachment.upload", "denied", "bs.uminh")],
    ),
    ("GET", "/api/v1/cases/{case_id}/attachments/{attachment_id}"): Expect(
        http_call("gs.timmach", "GET", C + "/attachments/{attachment}"),
        [("attachment.download", "success", "gs.timmach")],
        http_call("bs.uminh", "GET", C + "/attachments/{attachment}"),
        [("attachment.download", "denied", "bs.uminh")],
    ),
    ("GET", "/api/v1/cases/{case_id}/attachments/{attachment_id}/preview"): Expect(
        http_call("gs.timmach", "GET", C + "/attachments/{attachment}/preview"),
        [("attachment.preview", "success", "gs.timmach")],
        http_call("kiemtra", "GET", C + "/attachments/{attachment}/preview"),
        [("attachment.preview", "denied", "kiemtra")],
    ),
    ("GET", A): Expect(
        http_call("kiemtra", "GET", A),
        [("audit.query", "success", "kiemtra")],
        http_call("gs.chutoa", "GET", A),
        [("audit.query", "denied", "gs.chutoa")],
    ),
    ("GET", A + "/export.csv"): Expect(
        http_call("kiemtra", "GET", A + "/export.csv"),
        [("audit.export", "success", "kiemtra")],
        http_call("bs.namcan", "GET", A + "/export.csv"),
        [("audit.export", "denied", "bs.namcan")],
    ),
    ("GET", A + "/export.ndjson"): Expect(
        http_call("kiemtra", "GET", A + "/export.ndjson"),
        [("audit.export", "success", "kiemtra")],
        http_call("bs.namcan", "GET", A + "/export.ndjson"),
        [("audit.export", "denied", "bs.namcan")],
    ),
    ("GET", A + "/verify"): Expect(
        http_call("kiemtra", "GET", A + "/verify"),
        [("audit.verify", "success", "kiemtra")],
        http_call("gs.timmach", "GET", A + "/verify"),
        [("audit.verify", "denied", "gs.timmach")],
    ),
    ("POST", A + "/verify"): Expect(
        http_call("kiemtra", "POST", A + "/verify", {}),
        [("audit.verify", "success", "kiemtra")],
        http_call("gs.timmach", "POST", A + "/verify", {}),
        [("audit.verify", "denied", "gs.timmach")],
    ),
    ("POST", A + "/checkpoints"): Expect(
        http_call("kiemtra", "POST", A + "/checkpoints"),
        [("audit.checkpoint", "success", "kiemtra")],
        http_call("ts.thuky", "POST", A + "/checkpoints"),
        [("audit.checkpoint", "denied", "ts.thuky")],
    ),
    ("POST", "/api/v1/cases/{case_id}/invites"): Expect(
        http_call("gs.chutoa", "POST", C + "/invites", {"name": "Guest"}, "in_session"),
        [("guest.invite", "success", "gs.chutoa")],
        http_call("gs.timmach", "POST", C + "/invites", {"name": "Guest"}, "in_session"),
        [("guest.invite", "denied", "gs.timmach")],
    ),
    ("GET", "/api/v1/cases/{case_id}/invites"): Expect(
        http_call("ts.thuky", "GET", C + "/invites", None, "in_session"),
        [("guest.list", "success", "ts.thuky")],
        http_call("bs.namcan", "GET", C + "/invites", None, "in_session"),
        [("guest.list", "denied", "bs.namcan")],
    ),
    ("DELETE", "/api/v1/cases/{case_id}/invites/{invite_id}"): Expect(
        revoke_call("gs.chutoa"),
        [("guest.revoke", "success", "gs.chutoa")],
        revoke_call("gs.timmach"),
        [("guest.revoke", "denied", "gs.timmach")],
    ),
    ("GET", "/api/v1/cases/{case_id}/identity"): Expect(
        http_call("gs.timmach", "GET", C + "/identity"),
        [("case.identity.view", "success", "gs.timmach")],
        http_call("kiemtra", "GET", C + "/identity"),
        [("case.identity.view", "denied", "kiemtra")],
    ),
    ("PUT", "/api/v1/cases/{case_id}/identity"): Expect(
        http_call("bs.namcan", "PUT", C + "/identity", {"full_name": "Nguyễn Văn A"}),
        [("case.identity.update", "success", "bs.namcan")],
        http_call("gs.chutoa", "PUT", C + "/identity", {"full_name": "Nguyễn Văn A"}),
        [("case.identity.update", "denied", "gs.chutoa")],
    ),
    ("POST", "/api/v1/guests/redeem"): Expect(
        guest_call(),
        [("guest.redeem", "success", "guest-1")],
        guest_call(valid=False),
        [("guest.redeem", "denied", None)],
    ),
    ("GET", "/join/{token}"): NotAudited(
        "the guest's landing page changes nothing (link previews must not spend the link); "
        "its Join button redeems through the audited POST /api/v1/guests/redeem"
    ),
    ("GET", "/api/v1/stats"): Expect(
        http_call("kiemtra", "GET", "/api/v1/stats"),
        [("stats.read", "success", "kiemtra")],
        http_call("gs.chutoa", "GET", "/api/v1/stats"),
        [("stats.read", "denied", "gs.chutoa")],
    ),
    ("POST", "/api/v1/me/password"): Expect(
        http_call("gs.timmach", "POST", "/api/v1/me/password", NEW_PASSWORD),
        [("user.password_change", "success", "gs.timmach")],
        http_call(
            "bs.uminh", "POST", "/api/v1/me/password", {**NEW_PASSWORD, "current_password": "x"}
        ),
        [("user.password_change", "denied", "bs.uminh")],
    ),
    ("GET", AD + "/users"): Expect(
        http_call("kiemtra", "GET", AD + "/users"),
        [("user.list", "success", "kiemtra")],
        http_call("gs.chutoa", "GET", AD + "/users"),
        [("user.list", "denied", "gs.chutoa")],
    ),
    ("POST", AD + "/users"): Expect(
        http_call("kiemtra", "POST", AD + "/users", NEW_USER),
        [("user.create", "success", "kiemtra")],
        http_call("bs.namcan", "POST", AD + "/users", NEW_USER),
        [("user.create", "denied", "bs.namcan")],
    ),
    ("PUT", AD + "/users/{user_id}"): Expect(
        http_call(
            "kiemtra",
            "PUT",
            f"{AD}/users/{UMINH}",
            {"full_name": "BS. Lê Minh", "role": "district_doctor", "facility": "TTYT-UMINH"},
        ),
        [("user.update", "success", "kiemtra")],
        http_call("ts.thuky", "PUT", f"{AD}/users/{UMINH}", {"full_name": "X", "role": "admin"}),
        [("user.update", "denied", "ts.thuky")],
    ),
    ("POST", AD + "/users/{user_id}/disable"): Expect(
        http_call("kiemtra", "POST", f"{AD}/users/{THANKINH}/disable"),
        [("user.disable", "success", "kiemtra")],
        http_call("gs.timmach", "POST", f"{AD}/users/{THANKINH}/disable"),
        [("user.disable", "denied", "gs.timmach")],
    ),
    ("POST", AD + "/users/{user_id}/enable"): Expect(
        http_call("kiemtra", "POST", f"{AD}/users/{THANKINH}/enable"),
        [("user.enable", "success", "kiemtra")],
        http_call("bs.uminh", "POST", f"{AD}/users/{THANKINH}/enable"),
        [("user.enable", "denied", "bs.uminh")],
    ),
    ("POST", AD + "/users/{user_id}/password"): Expect(
        http_call("kiemtra", "POST", f"{AD}/users/{UMINH}/password", {"password": "mot-mat-khau"}),
        [("user.password_reset", "success", "kiemtra")],
        http_call("ts.thuky", "POST", f"{AD}/users/{UMINH}/password", {"password": "mot-mat-khau"}),
        [("user.password_reset", "denied", "ts.thuky")],
    ),
    ("GET", AD + "/facilities"): Expect(
        http_call("kiemtra", "GET", AD + "/facilities"),
        [("facility.list", "success", "kiemtra")],
        http_call("bs.namcan", "GET", AD + "/facilities"),
        [("facility.list", "denied", "bs.namcan")],
    ),
    ("POST", AD + "/facilities"): Expect(
        http_call(
            "kiemtra",
            "POST",
            AD + "/facilities",
            {"code": "TYT-X", "name": "Trạm Y tế", "level": "commune"},
        ),
        [("facility.create", "success", "kiemtra")],
        http_call(
            "gs.chutoa",
            "POST",
            AD + "/facilities",
            {"code": "TYT-Y", "name": "Trạm", "level": "commune"},
        ),
        [("facility.create", "denied", "gs.chutoa")],
    ),
    ("PUT", AD + "/facilities/{facility_id}"): Expect(
        http_call(
            "kiemtra", "PUT", AD + "/facilities/1", {"name": "TTYT Năm Căn", "level": "district"}
        ),
        [("facility.update", "success", "kiemtra")],
        http_call("bs.namcan", "PUT", AD + "/facilities/1", {"name": "X", "level": "district"}),
        [("facility.update", "denied", "bs.namcan")],
    ),
    ("GET", AD + "/councils"): Expect(
        http_call("kiemtra", "GET", AD + "/councils"),
        [("council.list", "success", "kiemtra")],
        http_call("gs.timmach", "GET", AD + "/councils"),
        [("council.list", "denied", "gs.timmach")],
    ),
    ("POST", AD + "/councils"): Expect(
        http_call(
            "kiemtra",
            "POST",
            AD + "/councils",
            {"code": "HD-X", "name": "Hội đồng X", "seat_facility": "BV-HUUNGHI"},
        ),
        [("council.create", "success", "kiemtra")],
        http_call(
            "ts.thuky",
            "POST",
            AD + "/councils",
            {"code": "HD-Y", "name": "Y", "seat_facility": "BV-HUUNGHI"},
        ),
        [("council.create", "denied", "ts.thuky")],
    ),
    ("PUT", AD + "/councils/{council_id}"): Expect(
        http_call(
            "kiemtra",
            "PUT",
            f"{AD}/councils/{TW}",
            {"name": "Hội đồng Trung ương", "seat_facility": "BV-HUUNGHI"},
        ),
        [("council.update", "success", "kiemtra")],
        http_call(
            "gs.thankinh",
            "PUT",
            f"{AD}/councils/{TW}",
            {"name": "X", "seat_facility": "BV-HUUNGHI"},
        ),
        [("council.update", "denied", "gs.thankinh")],
    ),
    ("PUT", AD + "/councils/{council_id}/members/{user_id}"): Expect(
        http_call(
            "kiemtra", "PUT", f"{AD}/councils/{TW}/members/{TIMMACH}", {"council_role": "secretary"}
        ),
        [("council.member_set", "success", "kiemtra")],
        http_call(
            "gs.chutoa", "PUT", f"{AD}/councils/{TW}/members/{TIMMACH}", {"council_role": "chair"}
        ),
        [("council.member_set", "denied", "gs.chutoa")],
    ),
    ("DELETE", AD + "/councils/{council_id}/members/{user_id}"): Expect(
        http_call("kiemtra", "DELETE", f"{AD}/councils/{TW}/members/{THANKINH}"),
        [("council.member_remove", "success", "kiemtra")],
        http_call("gs.thankinh", "DELETE", f"{AD}/councils/{TW}/members/{THANKINH}"),
        [("council.member_remove", "denied", "gs.thankinh")],
    ),
    ("GET", "/admin/users"): NotAudited("a page shell: the users come from the audited admin API"),
    ("GET", "/admin/councils"): NotAudited("a page shell: the councils come from the admin API"),
    ("GET", "/admin/facilities"): NotAudited("a page shell: the facilities come from the API"),
    ("GET", "/account/password"): NotAudited("the password form; the change itself is audited"),
    ("GET", "/cases/new"): NotAudited("the request form: the council directory, no case data"),
    ("GET", "/cases/{case_id}"): NotAudited(
        "a page shell: the case is read through the audited room join and API"
    ),
    ("GET", "/audit"): NotAudited("a page shell: the rows come from the audited audit API"),
    ("GET", "/stats"): NotAudited("a page shell: the figures come from the audited stats API"),
    ("GET", "/inbox"): NotAudited("a page shell: the notifications come from the inbox API"),
    ("GET", "/api/v1/notifications"): NotAudited(
        "reads only the caller's own notifications (a title and a case number each)"
    ),
    ("GET", "/api/v1/notifications/unread"): NotAudited("counts the caller's own notifications"),
    ("POST", "/api/v1/notifications/{notification_id}/read"): NotAudited(
        "marks one of the caller's own notifications read: no case, account or audit data"
    ),
    ("POST", "/api/v1/notifications/read"): NotAudited(
        "marks the caller's own notifications read: no case, account or audit data"
    ),
    ("GET", "/healthz"): NotAudited("operations: touches no case or account data"),
    ("GET", "/readyz"): NotAudited("operations: checks the database, Redis and disk, no data"),
    ("GET", "/metrics"): NotAudited("operations: counters only"),
    ("GET", "/login"): NotAudited("the sign-in form; the sign-in itself is audited"),
    ("GET", "/"): NotAudited("the signed-in home page shows the caller's own account only"),
    ("GET", "/static"): NotAudited("static files"),
    ("GET", "/vendor/socket.io"): NotAudited("a browser library"),
    ("GET", "/socket.io/"): NotAudited("the Socket.IO transport; its events are classified below"),
    ("POST", "/socket.io/"): NotAudited("the Socket.IO transport"),
    ("OPTIONS", "/socket.io/"): NotAudited("the Socket.IO transport"),
}


def just_case(case_id: int) -> dict[str, Any]:
    return {"case_id": case_id}


def consenting(case_id: int) -> dict[str, Any]:
    return {"case_id": case_id, "consent": True}


IN_CALL: tuple[tuple[str, dict[str, Any]], ...] = (("call:join", {}),)
CONSENTED = (*IN_CALL, ("rec:consent", {"consent": True}))

SOCKET: dict[str, Expect | NotAudited] = {
    "case:join": Expect(
        socket_call("gs.timmach", "case:join", lambda c: {"case_id": c, "after_seq": 0}),
        [("room.join", "success", "gs.timmach")],
        socket_call("gs.thankinh", "case:join", lambda c: {"case_id": c, "after_seq": 0}),
        [("room.join", "denied", "gs.thankinh")],
    ),
    "case:leave": Expect(
        socket_call("gs.timmach", "case:leave", lambda c: {"case_id": c}, join=True),
        [("room.leave", "success", "gs.timmach")],
        why_no_refusal="leaving is never refused; leaving a room one is not in does nothing",
    ),
    "case:note": Expect(
        socket_call(
            "bs.namcan",
            "case:note",
            lambda c: {"case_id": c, "body": "x", "client_id": "n1"},
            join=True,
        ),
        [("note.create", "success", "bs.namcan")],
        socket_call(
            "bs.uminh", "case:note", lambda c: {"case_id": c, "body": "x", "client_id": "n1"}
        ),
        [("note.create", "denied", "bs.uminh")],
    ),
    "rtc:config": NotAudited("ICE servers and short-lived TURN credentials; no case data"),
    "rtc:signal": NotAudited(
        "WebRTC descriptions and candidates relayed between browsers, hundreds per call; "
        "joining and leaving the call are audited"
    ),
    "rtc:stats": NotAudited("connection figures kept in memory for the chair; no case data"),
    "call:mode": NotAudited("a participant's own audio-only choice, told to the call"),
    "call:join": Expect(
        socket_call("gs.timmach", "call:join", just_case, join=True, stage="in_session"),
        [("call.join", "success", "gs.timmach")],
        socket_call("gs.thankinh", "call:join", just_case, stage="in_session"),
        [("call.join", "denied", "gs.thankinh")],
    ),
    "call:leave": Expect(
        socket_call(
            "gs.timmach", "call:leave", just_case, join=True, stage="in_session", before=IN_CALL
        ),
        [("call.leave", "success", "gs.timmach")],
        why_no_refusal="leaving is never refused; leaving a call one is not in does nothing",
    ),
    "call:start": Expect(
        socket_call("gs.chutoa", "call:start", just_case, join=True, stage="scheduled"),
        [("case.start_session", "success", "gs.chutoa")],
        socket_call("gs.timmach", "call:start", just_case, join=True, stage="scheduled"),
        [("case.start_session", "denied", "gs.timmach")],
    ),
    "call:admit": Expect(
        admit_call("gs.chutoa"),
        [("call.admit", "success", "gs.chutoa"), ("call.join", "success", "guest-1")],
        admit_call("gs.timmach"),
        [("call.admit", "denied", "gs.timmach")],
    ),
    "rec:consent": Expect(
        socket_call(
            "gs.timmach", "rec:consent", consenting, join=True, stage="in_session", before=IN_CALL
        ),
        [("recording.consent", "success", "gs.timmach")],
        socket_call("gs.timmach", "rec:consent", consenting, join=True, stage="in_session"),
        [("recording.consent", "denied", "gs.timmach")],
    ),
    "rec:start": Expect(
        socket_call(
            "gs.chutoa", "rec:start", just_case, join=True, stage="in_session", before=CONSENTED
        ),
        [("recording.start", "success", "gs.chutoa")],
        socket_call(
            "gs.timmach", "rec:start", just_case, join=True, stage="in_session", before=CONSENTED
        ),
        [("recording.start", "denied", "gs.timmach")],
    ),
    "rec:stop": Expect(
        socket_call(
            "gs.chutoa",
            "rec:stop",
            just_case,
            join=True,
            stage="in_session",
            before=(*CONSENTED, ("rec:start", {})),
        ),
        # The finished file is attached to the case in the name of whoever stopped it.
        [("recording.stop", "success", "gs.chutoa"), ("attachment.upload", "success", "gs.chutoa")],
        socket_call("gs.timmach", "rec:stop", just_case, join=True, stage="in_session"),
        [("recording.stop", "denied", "gs.timmach")],
    ),
}


def _routes(server: RunningServer) -> set[tuple[str, str]]:
    return {
        (route.method, route.resource.canonical)
        for route in server.app.router.routes()
        if route.resource is not None and route.method != "HEAD"
    }


def _socket_events(server: RunningServer) -> set[str]:
    namespace = server.app[appkeys.SOCKETIO].namespace_handlers["/"]
    events: frozenset[str] = namespace.events
    return set(events)


async def test_every_route_and_event_is_classified(server: RunningServer) -> None:
    assert _routes(server) == set(HTTP), "classify every new route in this test"
    assert _socket_events(server) == set(SOCKET), "classify every new Socket.IO event here"


async def _last_seq(server: RunningServer) -> int:
    async with server.app[appkeys.SESSIONMAKER]() as db:
        return int(await db.scalar(select(func.coalesce(func.max(AuditRecord.seq), 0))) or 0)


async def _rows_after(server: RunningServer, seq: int) -> list[Row]:
    async with server.app[appkeys.SESSIONMAKER]() as db:
        rows = await db.scalars(
            select(AuditRecord).where(AuditRecord.seq > seq).order_by(AuditRecord.seq)
        )
        return [(r.action, r.outcome, r.actor_username) for r in rows]


async def _check(world: World, call: Call, rows: list[Row], refused: bool) -> None:
    act = await call(world)
    before = await _last_seq(world.server)
    status = await act()
    assert (status >= 400) is refused, status
    assert await _rows_after(world.server, before) == rows


@pytest.mark.parametrize("key", sorted(HTTP, key=str), ids=lambda k: f"{k[0]} {k[1]}")
async def test_http_route_audit(server: RunningServer, key: tuple[str, str]) -> None:
    await _run(server, HTTP[key])


@pytest.mark.parametrize("event", sorted(SOCKET))
async def test_socket_event_audit(server: RunningServer, event: str) -> None:
    await _run(server, SOCKET[event])


async def _run(server: RunningServer, spec: Expect | NotAudited) -> None:
    if isinstance(spec, NotAudited):
        assert spec.why
        return
    people = await server.sign_in_all()
    world = World(server, people)
    await _check(world, spec.success, spec.success_rows, refused=False)
    if spec.refusal is None:
        assert spec.why_no_refusal
        return
    assert spec.refusal_rows is not None
    await _check(world, spec.refusal, spec.refusal_rows, refused=True)


async def test_the_audit_page_offers_every_action_the_application_records(
    server: RunningServer,
) -> None:
    """The action filter's suggestions name every action classified above."""
    actions = {
        row[0]
        for spec in [*HTTP.values(), *SOCKET.values()]
        if isinstance(spec, Expect)
        for row in [*spec.success_rows, *(spec.refusal_rows or [])]
    }
    auditor = await server.sign_in("kiemtra")
    async with auditor.http.get("/audit") as response:
        assert response.status == 200
        page = await response.text()
    offered = set(re.findall(r'<option value="([a-z_.]+)">', page))
    assert sorted(actions - offered) == []
