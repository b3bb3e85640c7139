"""The one case factory of the tests: a case requested through the HTTP API, then moved
along the workflow as its chair, members and doctor would."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from tests.support.api import call, step_up
from tests.support.server import RunningServer, SignedIn

NEW_CASE: dict[str, Any] = {
    "council": "HDCM-MIENNAM",
    "patient_code": "NC-2026-001",
    "patient_sex": "male",
    "patient_birth_year": 1958,
    "title": "Đau ngực cấp",
    "summary": "Nam 68 tuổi, đau ngực trái 3 giờ, ECG ST chênh lên DII, DIII, aVF.",
    "questions": ["Chẩn đoán xác định?", "Có chuyển tuyến can thiệp mạch vành không?"],
    "specialty": "Tim mạch",
    "urgency": "urgent",
}
DRAFT: dict[str, Any] = {
    "version": 0,
    "answers": [
        {"question": 1, "answer": "Nhồi máu cơ tim cấp thành dưới."},
        {"question": 2, "answer": "Chuyển tuyến can thiệp trong 12 giờ."},
    ],
    "treatment_direction": "Aspirin, clopidogrel, heparin; chuyển viện.",
    "transfer": True,
    "follow_up": "Tái khám sau 1 tháng.",
}
# Far ahead: servers on the real clock (the fuzzing) refuse a session time in the past.
SESSION_AT = "2036-01-02T09:00:00+07:00"

# The decided case of the minutes, FHIR and seal tests: markup in what people wrote, to
# prove that every document shows it as text.
SCRIPT = "<script>alert(1)</script>"
DECIDED_CASE: dict[str, Any] = {
    "patient_code": "NC-2026-042",
    "summary": f"Nam 68 tuổi, đau ngực trái 3 giờ. Đã dùng aspirin tại huyện. {SCRIPT}",
}
# A day after the manual clock's start, as the minutes of those tests show it.
DECIDED_AT = "2026-01-02T09:00:00+07:00"
DISSENT = "Nên chụp mạch vành tại chỗ trước khi chuyển."


async def create_case(doctor: SignedIn, **changes: Any) -> dict[str, Any]:
    """A new case requested by ``doctor`` (of HDCM-MIENNAM unless ``changes`` say otherwise):
    the board the API answers."""
    board: dict[str, Any] = await call(
        doctor, "POST", "/api/v1/cases", {**NEW_CASE, **changes}, expect=201
    )
    return board


async def act(who: SignedIn, case_id: int, action: str, **fields: Any) -> Any:
    return await call(
        who, "POST", f"/api/v1/cases/{case_id}/transitions", {"action": action, **fields}
    )


async def to_scheduled(chair: SignedIn, case_id: int, at: str = SESSION_AT) -> None:
    await act(chair, case_id, "accept")
    await act(chair, case_id, "schedule", scheduled_at=at)


async def to_session(chair: SignedIn, case_id: int, at: str = SESSION_AT) -> None:
    await to_scheduled(chair, case_id, at)
    await act(chair, case_id, "start_session")


async def requested_case(server: RunningServer, **changes: Any) -> int:
    """The id of a case bs.namcan requests of HDCM-MIENNAM."""
    return int((await create_case(await server.sign_in("bs.namcan"), **changes))["id"])


async def council_case(server: RunningServer) -> tuple[SignedIn, SignedIn, SignedIn, int]:
    """A case bs.namcan requested from HDCM-MIENNAM: the doctor, the council's chair and a
    member (signed in), and the case's id."""
    doctor, chair = await server.sign_in("bs.namcan"), await server.sign_in("gs.chutoa")
    member = await server.sign_in("gs.timmach")
    return doctor, chair, member, int((await create_case(doctor))["id"])


async def in_session_case(server: RunningServer) -> tuple[int, SignedIn]:
    """A case of bs.namcan's in session with HDCM-MIENNAM: its id and the chair's API."""
    doctor, chair = await server.sign_in("bs.namcan"), await server.sign_in("gs.chutoa")
    case_id = int((await create_case(doctor))["id"])
    await to_session(chair, case_id)
    return case_id, chair


async def decide(server: RunningServer, doctor: SignedIn) -> tuple[int, dict[str, Any]]:
    """A DECIDED_CASE driven through the whole workflow to a signed decision, with a note of
    a member and of the doctor, a concurring member and a dissenting secretary: its id and
    the signed decision."""
    chair = await server.sign_in("gs.chutoa")
    member = await server.sign_in("gs.timmach")
    secretary = await server.sign_in("ts.thuky")
    case_id = int((await create_case(doctor, **DECIDED_CASE))["id"])
    base = f"/api/v1/cases/{case_id}"
    await to_session(chair, case_id, DECIDED_AT)
    await call(member, "POST", base + "/notes", {"body": f"ECG phù hợp NMCT. {SCRIPT}"}, 201)
    await call(doctor, "POST", base + "/notes", {"body": "Huyết áp 100/60.", "question": 1}, 201)
    await call(chair, "PUT", base + "/decision/draft", DRAFT)
    await call(member, "POST", base + "/decision/opinions", {"version": 1, "stance": "concur"})
    await call(
        secretary,
        "POST",
        base + "/decision/opinions",
        {"version": 1, "stance": "dissent", "reason": DISSENT},
    )
    await step_up(chair)
    signed: dict[str, Any] = await call(chair, "POST", base + "/decision/sign", {"version": 1})
    return case_id, signed


async def close_case(doctor: SignedIn, chair: SignedIn, case_id: int) -> dict[str, Any]:
    """Take a case from requested to closed: triage, session, signed decision, outcome."""
    await to_session(chair, case_id)
    await call(chair, "PUT", f"/api/v1/cases/{case_id}/decision/draft", DRAFT)
    await step_up(chair)
    await call(chair, "POST", f"/api/v1/cases/{case_id}/decision/sign", {"version": 1})
    closed: dict[str, Any] = await act(doctor, case_id, "close", outcome="o")
    return closed


# A case at each stage of the workflow, made by the demo accounts signed in by username
# (RunningServer.sign_in_all): bs.namcan's, asked of HDCM-MIENNAM, whose chair moves it.
People = Mapping[str, SignedIn]
Stage = Callable[[People], Awaitable[int]]


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
    case_id = await _requested(p)
    await to_scheduled(p["gs.chutoa"], case_id)
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
    await step_up(p["gs.chutoa"])
    await call(p["gs.chutoa"], "POST", f"/api/v1/cases/{case_id}/decision/sign", {"version": 1})
    return case_id


async def _closed(p: People) -> int:
    case_id = await _decided(p)
    await act(p["bs.namcan"], case_id, "close", outcome="ổn định")
    return case_id


async def _declined(p: People) -> int:
    case_id = await _requested(p)
    await act(p["gs.chutoa"], case_id, "decline", reason="r")
    return case_id


async def _cancelled(p: People) -> int:
    case_id = await _requested(p)
    await act(p["bs.namcan"], case_id, "cancel")
    return case_id


CASE_AT: dict[str, Stage] = {
    "requested": _requested,
    "info_requested": _info_requested,
    "accepted": _accepted,
    "scheduled": _scheduled,
    "in_session": _in_session,
    "drafted": _drafted,
    "decided": _decided,
    "closed": _closed,
    "declined": _declined,
    "cancelled": _cancelled,
}
