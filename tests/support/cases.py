"""Creating cases and moving them along through the HTTP API, for tests of any package."""

from __future__ import annotations

from typing import Any

from tests.support.server import SignedIn

NEW_CASE: dict[str, Any] = {
    "council": "HDCM-MIENNAM",
    "patient_code": "NC-1",
    "patient_sex": "male",
    "patient_birth_year": 1960,
    "title": "t",
    "summary": "s",
    "questions": ["q1"],
    "specialty": "Tim mạch",
    "urgency": "urgent",
}


async def api(
    who: SignedIn, method: str, path: str, body: object = None, *, expect: int = 200
) -> Any:
    """Call the JSON API as ``who`` (bearer token) and check the status."""
    async with who.http.request(method, path, json=body, headers=who.bearer) as response:
        data = await response.json()
        assert response.status == expect, (response.status, data)
        return data


async def create_case(doctor: SignedIn, **changes: Any) -> dict[str, Any]:
    """A new case requested by ``doctor`` (bs.namcan asks HDCM-MIENNAM by default)."""
    board: dict[str, Any] = await api(
        doctor, "POST", "/api/v1/cases", {**NEW_CASE, **changes}, expect=201
    )
    return board


async def transition(who: SignedIn, case_id: int, action: str, **fields: Any) -> dict[str, Any]:
    board: dict[str, Any] = await api(
        who, "POST", f"/api/v1/cases/{case_id}/transitions", {"action": action, **fields}
    )
    return board


async def close_case(doctor: SignedIn, chair: SignedIn, case_id: int) -> dict[str, Any]:
    """Take a one-question case from requested to closed: triage, session, signed decision."""
    await transition(chair, case_id, "accept")
    await transition(chair, case_id, "schedule", scheduled_at="2036-01-02T09:00:00+07:00")
    await transition(chair, case_id, "start_session")
    draft = {
        "version": 0,
        "answers": [{"question": 1, "answer": "a1"}],
        "treatment_direction": "d",
        "transfer": False,
        "follow_up": "",
    }
    await api(chair, "PUT", f"/api/v1/cases/{case_id}/decision/draft", draft)
    await api(chair, "POST", f"/api/v1/cases/{case_id}/decision/sign", {"version": 1})
    return await transition(doctor, case_id, "close", outcome="o")
