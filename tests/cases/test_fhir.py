"""The case as a FHIR R4 Bundle: valid, and following the case through its workflow."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from telemed import appkeys
from telemed.audit.models import AuditRecord
from tests.support.api import call, step_up
from tests.support.cases import DECIDED_AT, DECIDED_CASE, DISSENT, DRAFT, act, create_case, decide
from tests.support.fhir import V3_ACT_CODE, check_bundle, every, export, only
from tests.support.server import RunningServer


async def test_the_bundle_follows_the_case_through_the_workflow(server: RunningServer) -> None:
    doctor = await server.sign_in("bs.namcan")
    chair = await server.sign_in("gs.chutoa")
    case_id = int((await create_case(doctor, **DECIDED_CASE, urgency="emergency"))["id"])
    seen: list[tuple[str, str, str]] = []

    async def snapshot() -> dict[str, Any]:
        bundle = await export(doctor, case_id)
        check_bundle(bundle)
        seen.append(
            (
                only(bundle, "Task")["status"],
                only(bundle, "ServiceRequest")["status"],
                only(bundle, "Encounter")["status"],
            )
        )
        return bundle

    await snapshot()
    await act(chair, case_id, "accept")
    await snapshot()
    await act(chair, case_id, "schedule", scheduled_at=DECIDED_AT)
    await act(chair, case_id, "start_session")
    in_session = await snapshot()
    base = f"/api/v1/cases/{case_id}"
    await call(chair, "PUT", base + "/decision/draft", DRAFT)
    await step_up(chair)
    await call(chair, "POST", base + "/decision/sign", {"version": 1})
    await snapshot()
    await act(doctor, case_id, "close", outcome="Đã chuyển viện, ổn định.")
    await snapshot()
    assert seen == [
        ("requested", "active", "planned"),
        ("accepted", "active", "planned"),
        ("in-progress", "active", "in-progress"),
        ("completed", "completed", "finished"),
        ("completed", "completed", "finished"),
    ]
    # No output before the decision is signed.
    assert "output" not in only(in_session, "Task")
    request = only(in_session, "ServiceRequest")
    assert request["priority"] == "stat"
    assert request["occurrenceDateTime"] == "2026-01-02T02:00:00+00:00"


async def test_declined_and_cancelled_cases(server: RunningServer) -> None:
    doctor = await server.sign_in("bs.namcan")
    chair = await server.sign_in("gs.chutoa")
    declined = int((await create_case(doctor, **DECIDED_CASE))["id"])
    await act(chair, declined, "decline", reason="Ngoài chuyên môn của hội đồng.")
    cancelled = int((await create_case(doctor, **DECIDED_CASE, urgency="routine"))["id"])
    await act(doctor, cancelled, "cancel")
    first, second = await export(doctor, declined), await export(doctor, cancelled)
    check_bundle(first)
    check_bundle(second)
    assert only(first, "Task")["status"] == "rejected"
    assert only(first, "ServiceRequest")["status"] == "revoked"
    assert only(second, "Task")["status"] == "cancelled"
    assert only(second, "Encounter")["status"] == "cancelled"
    assert only(second, "ServiceRequest")["priority"] == "routine"


async def test_the_bundle_of_a_decided_case(server: RunningServer) -> None:
    doctor = await server.sign_in("bs.namcan")
    case_id, signed = await decide(server, doctor)
    bundle = await export(doctor, case_id)
    check_bundle(bundle)
    assert bundle["type"] == "collection"
    by_url = {e["fullUrl"]: e["resource"] for e in bundle["entry"]}

    patient = only(bundle, "Patient")
    assert patient["identifier"][0]["value"] == "NC-2026-042"
    assert (patient["gender"], patient["birthDate"]) == ("male", "1958")

    request = only(bundle, "ServiceRequest")
    assert request["intent"] == "order"
    assert request["priority"] == "asap"
    assert by_url[request["subject"]["reference"]] is patient
    assert by_url[request["performer"][0]["reference"]]["name"] == "Hội đồng chuyên môn miền Nam"
    requester = by_url[request["requester"]["reference"]]
    assert by_url[requester["organization"]["reference"]]["identifier"][0]["value"] == (
        "TTYT-NAMCAN"
    )
    notes = [n["text"] for n in request["note"]]
    assert notes[0].startswith("Nam 68 tuổi")
    assert notes[1:] == [
        "Question 1: Chẩn đoán xác định?",
        "Question 2: Có chuyển tuyến can thiệp mạch vành không?",
    ]

    task = only(bundle, "Task")
    assert task["status"] == "completed"
    assert by_url[task["focus"]["reference"]] is request
    assert by_url[task["owner"]["reference"]]["identifier"][0]["value"] == "HDCM-MIENNAM"
    outputs = {o["type"]["coding"][0]["code"]: o for o in task["output"]}
    whole = outputs["decision"]["valueString"]
    assert "Conclusion: Nhồi máu cơ tim cấp thành dưới." in whole
    assert "Treatment direction: Aspirin, clopidogrel, heparin; chuyển viện." in whole
    assert signed["content_sha256"] in whole
    answers = [
        o["valueString"] for o in task["output"] if o["type"]["coding"][0]["code"] == "answer"
    ]
    assert answers == [a["answer"] for a in DRAFT["answers"]]
    assert outputs["transfer"]["valueBoolean"] is True
    assert outputs["follow-up"]["valueString"] == "Tái khám sau 1 tháng."
    assert outputs["dissent"]["valueString"] == DISSENT
    assert outputs["signature"]["valueString"] == signed["content_sha256"]
    assert by_url[outputs["signed-by"]["valueReference"]["reference"]]["name"][0]["text"] == (
        "GS.TS. Trần Quốc Chủ"
    )

    encounter = only(bundle, "Encounter")
    assert encounter["class"] == {"system": V3_ACT_CODE, "code": "VR", "display": "virtual"}
    assert encounter["status"] == "finished"
    assert encounter["period"]["end"] == signed["signed_at"]
    roles = [by_url[p["individual"]["reference"]] for p in encounter["participant"]]
    specialties = {r.get("specialty", [{}])[0].get("text") for r in roles}
    assert {"Nội khoa", "Tim mạch", "Nội tổng quát"} <= specialties

    communications = every(bundle, "Communication")
    assert [c["payload"][0]["contentString"] for c in communications] == [
        "ECG phù hợp NMCT. <script>alert(1)</script>",
        "Huyết áp 100/60.",
    ]
    assert by_url[communications[1]["sender"]["reference"]]["name"][0]["text"] == (
        "BS. Nguyễn Văn Nam"
    )
    assert all(c["sent"] and c["status"] == "completed" for c in communications)
    # Exporting again gives the same resources under the same ids.
    again = await export(doctor, case_id)
    assert [e["fullUrl"] for e in again["entry"]] == [e["fullUrl"] for e in bundle["entry"]]


async def test_only_participants_export_and_exports_are_audited(server: RunningServer) -> None:
    doctor = await server.sign_in("bs.namcan")
    case_id = int((await create_case(doctor, **DECIDED_CASE))["id"])
    await export(await server.sign_in("bs.uminh"), case_id, expect=404)
    await export(await server.sign_in("gs.thankinh"), case_id, expect=404)
    await export(await server.sign_in("kiemtra"), case_id, expect=403)
    await export(await server.sign_in("gs.timmach"), case_id)
    async with server.app[appkeys.SESSIONMAKER]() as db:
        rows = (
            await db.scalars(
                select(AuditRecord)
                .where(AuditRecord.case_id == case_id, AuditRecord.action == "case.fhir_export")
                .order_by(AuditRecord.seq)
            )
        ).all()
    assert [(r.actor_username, r.outcome) for r in rows] == [
        ("bs.uminh", "denied"),
        ("gs.thankinh", "denied"),
        ("kiemtra", "denied"),
        ("gs.timmach", "success"),
    ]
