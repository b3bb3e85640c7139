"""Driving cases through the HTTP API in tests, as the browser would."""

from __future__ import annotations

from typing import Any

from tests.support.server import SignedIn

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


async def call(
    who: SignedIn, method: str, path: str, body: object = None, expect: int | None = 200
) -> Any:
    async with who.http.request(method, path, json=body, headers={**who.bearer}) as response:
        data = await response.json()
        if expect is not None:
            assert response.status == expect, (response.status, data)
        return data


async def create_case(doctor: SignedIn, **changes: Any) -> dict[str, Any]:
    created: dict[str, Any] = await call(
        doctor, "POST", "/api/v1/cases", {**NEW_CASE, **changes}, expect=201
    )
    return created


async def act(who: SignedIn, case_id: int, action: str, **fields: Any) -> Any:
    return await call(
        who, "POST", f"/api/v1/cases/{case_id}/transitions", {"action": action, **fields}
    )


async def to_scheduled(chair: SignedIn, case_id: int) -> None:
    await act(chair, case_id, "accept")
    # Far ahead: servers on the real clock (the fuzzing) refuse a session time in the past.
    await act(chair, case_id, "schedule", scheduled_at="2036-01-02T09:00:00+07:00")


async def to_session(chair: SignedIn, case_id: int) -> None:
    await to_scheduled(chair, case_id)
    await act(chair, case_id, "start_session")


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
