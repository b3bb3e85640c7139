"""A case as a FHIR R4 Bundle: ServiceRequest, Task, a virtual Encounter, Communications.

Pure: built from the minutes record (the board JSON, the asked council's memberships,
each person's facility, when the session started). Every resource gets a name-based
UUID, so exporting the same case twice gives the same ids, and one facility or doctor has
one id across cases; references are ``urn:uuid:`` fullUrls inside the bundle.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from telemed.shapes import Json

V3_ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
SNOMED = "http://snomed.info/sct"
# Telemed's own identifier systems (URNs: no web address is promised behind them).
CASE_SYSTEM = "urn:telemed:case"
NOTE_SYSTEM = "urn:telemed:note"
FACILITY_SYSTEM = "urn:telemed:facility"
COUNCIL_SYSTEM = "urn:telemed:council"
USER_SYSTEM = "urn:telemed:user"
OUTPUT_SYSTEM = "urn:telemed:task-output"
ROLE_SYSTEM = "urn:telemed:council-role"
# The patient's own identifiers, when the exporting user may see who the patient is.
NATIONAL_ID_SYSTEM = "urn:telemed:vn:national-id"
HEALTH_INSURANCE_SYSTEM = "urn:telemed:vn:health-insurance"
_NAMESPACE = uuid.UUID("5b0c2a4e-93d1-4c55-8f0e-6c1f7d3e2a10")

SERVICE_REQUEST_STATUS = {
    "requested": "active",
    "info_requested": "on-hold",
    "accepted": "active",
    "scheduled": "active",
    "in_session": "active",
    "decided": "completed",
    "closed": "completed",
    "declined": "revoked",
    "cancelled": "revoked",
}
TASK_STATUS = {
    "requested": "requested",
    "info_requested": "on-hold",
    "accepted": "accepted",
    "scheduled": "accepted",
    "in_session": "in-progress",
    "decided": "completed",
    "closed": "completed",
    "declined": "rejected",
    "cancelled": "cancelled",
}
ENCOUNTER_STATUS = {
    "requested": "planned",
    "info_requested": "planned",
    "accepted": "planned",
    "scheduled": "planned",
    "in_session": "in-progress",
    "decided": "finished",
    "closed": "finished",
    "declined": "cancelled",
    "cancelled": "cancelled",
}
PRIORITY = {"emergency": "stat", "urgent": "asap", "routine": "routine"}


def urn(kind: str, key: str) -> str:
    return f"urn:uuid:{uuid.uuid5(_NAMESPACE, f'{kind}/{key}')}"


def ref(full_url: str, display: str | None = None) -> Json:
    return {"reference": full_url, **({"display": display} if display else {})}


def _output(code: str, text: str, **value: Any) -> Json:
    return {"type": {"coding": [{"system": OUTPUT_SYSTEM, "code": code}], "text": text}, **value}


class BundleBuilder:
    """Collects resources once each, in the order they were first needed."""

    def __init__(self, record: Json) -> None:
        self.record = record
        self.entries: dict[str, Json] = {}

    def add(self, full_url: str, resource: Json) -> str:
        if full_url not in self.entries:
            resource = {
                "resourceType": resource.pop("resourceType"),
                "id": full_url.removeprefix("urn:uuid:"),
                **resource,
            }
            self.entries[full_url] = {"fullUrl": full_url, "resource": resource}
        return full_url

    def facility(self, facility: Json) -> Json:
        full_url = urn("facility", facility["code"])
        self.add(
            full_url,
            {
                "resourceType": "Organization",
                "identifier": [{"system": FACILITY_SYSTEM, "value": facility["code"]}],
                "active": True,
                "name": facility["name"],
            },
        )
        return ref(full_url, facility["name"])

    def council(self) -> Json:
        council = self.record["board"]["council"]
        seat = self.facility(self.record["council_seat"])
        full_url = urn("council", council["code"])
        self.add(
            full_url,
            {
                "resourceType": "Organization",
                "identifier": [{"system": COUNCIL_SYSTEM, "value": council["code"]}],
                "active": True,
                "type": [{"text": "Expert council"}],
                "name": council["name"],
                "partOf": seat,
            },
        )
        return ref(full_url, council["name"])

    def practitioner(self, user_id: int) -> Json:
        person = self.record["people"][user_id]
        full_url = urn("user", person["username"])
        self.add(
            full_url,
            {
                "resourceType": "Practitioner",
                "identifier": [{"system": USER_SYSTEM, "value": person["username"]}],
                "active": True,
                "name": [{"text": person["full_name"]}],
            },
        )
        return ref(full_url, person["full_name"])

    def role(self, user_id: int) -> Json:
        """The person in this consultation: council seat and specialty, or their facility."""
        person = self.record["people"][user_id]
        seat = next((s for s in self.record["seats"] if s["user_id"] == user_id), None)
        resource: Json = {
            "resourceType": "PractitionerRole",
            "practitioner": self.practitioner(user_id),
        }
        if seat is not None:
            resource["organization"] = self.council()
            resource["code"] = [{"coding": [{"system": ROLE_SYSTEM, "code": seat["council_role"]}]}]
            if seat["specialty"]:
                resource["specialty"] = [{"text": seat["specialty"]}]
        elif person["facility"] is not None:
            resource["organization"] = self.facility(person["facility"])
        full_url = urn("role", f"{self.record['board']['council']['code']}/{person['username']}")
        return ref(self.add(full_url, resource), person["full_name"])

    def patient(self) -> Json:
        board = self.record["board"]
        patient = board["patient"]
        facility = board["requesting_facility"]["code"]
        full_url = urn("patient", f"{facility}/{patient['code']}")
        # Pseudonymous codes are unique per requesting facility.
        identifiers = [
            {"system": f"{FACILITY_SYSTEM}:{facility}:patient", "value": patient["code"]}
        ]
        resource: Json = {
            "resourceType": "Patient",
            "identifier": identifiers,
            "gender": patient["sex"],
            "birthDate": str(patient["birth_year"]),
            "managingOrganization": self.facility(board["requesting_facility"]),
        }
        # Present only when the exporting user may see who the patient is (minutes.py).
        identity = self.record.get("identity") or {}
        for field, system in (
            ("hospital_record_number", f"{FACILITY_SYSTEM}:{facility}:record"),
            ("national_id", NATIONAL_ID_SYSTEM),
            ("health_insurance_number", HEALTH_INSURANCE_SYSTEM),
        ):
            if field in identity:
                identifiers.append({"system": system, "value": identity[field]})
        if "full_name" in identity:
            resource["name"] = [{"use": "official", "text": identity["full_name"]}]
        if "date_of_birth" in identity:
            resource["birthDate"] = identity["date_of_birth"]
        self.add(full_url, _compact(resource))
        return ref(full_url, patient["code"])

    def bundle(self) -> Json:
        record = self.record
        key = f"{record['board']['id']}/{record['generated_at']}"
        return {
            "resourceType": "Bundle",
            "id": urn("bundle", key).removeprefix("urn:uuid:"),
            "identifier": {"system": CASE_SYSTEM, "value": str(record["board"]["id"])},
            "type": "collection",
            "timestamp": record["generated_at"],
            "entry": list(self.entries.values()),
        }


def consultation_bundle(record: Json) -> Json:
    builder = BundleBuilder(record)
    board = record["board"]
    service_request = _service_request(builder)
    encounter = _encounter(builder, service_request)
    _task(builder, service_request, encounter)
    for note in board["notes"]:
        _communication(builder, note, service_request, encounter)
    return builder.bundle()


def _service_request(builder: BundleBuilder) -> str:
    board = builder.record["board"]
    requester = board["requested_by"]
    notes = [{"text": board["summary"], "time": board["created_at"]}]
    notes += [{"text": f"Question {q['number']}: {q['text']}"} for q in board["questions"]]
    resource: Json = {
        "resourceType": "ServiceRequest",
        "identifier": [{"system": CASE_SYSTEM, "value": str(board["id"])}],
        "status": SERVICE_REQUEST_STATUS[board["status"]],
        "intent": "order",
        "category": [{"text": board["specialty"]}],
        "priority": PRIORITY[board["urgency"]],
        "code": {
            "coding": [{"system": SNOMED, "code": "11429006", "display": "Consultation"}],
            "text": "Remote consultation",
        },
        "subject": builder.patient(),
        "authoredOn": board["created_at"],
        "requester": builder.role(requester["id"]) if requester else None,
        "performer": [builder.council()],
        "reasonCode": [{"text": board["title"]}],
        "note": notes,
    }
    if board["scheduled_at"]:
        resource["occurrenceDateTime"] = board["scheduled_at"]
    return builder.add(urn("service-request", str(board["id"])), _compact(resource))


def _encounter(builder: BundleBuilder, service_request: str) -> str:
    record = builder.record
    board = record["board"]
    signed = [d for d in board["decisions"] if d["status"] == "signed" and not d["amends"]]
    period: Json = {}
    if record["session_started_at"]:
        period["start"] = record["session_started_at"]
        if signed:
            period["end"] = signed[0]["signed_at"]
    resource: Json = {
        "resourceType": "Encounter",
        "status": ENCOUNTER_STATUS[board["status"]],
        "class": {"system": V3_ACT_CODE, "code": "VR", "display": "virtual"},
        "type": [{"text": "Remote consultation session"}],
        "subject": builder.patient(),
        "basedOn": [ref(service_request)],
        "participant": [{"individual": builder.role(p["id"])} for p in board["participants"]],
        "period": period or None,
        "serviceProvider": builder.council(),
    }
    return builder.add(urn("encounter", str(board["id"])), _compact(resource))


def _task(builder: BundleBuilder, service_request: str, encounter: str) -> str:
    board = builder.record["board"]
    requester = board["requested_by"]
    resource: Json = {
        "resourceType": "Task",
        "identifier": [{"system": CASE_SYSTEM, "value": str(board["id"])}],
        "status": TASK_STATUS[board["status"]],
        "businessStatus": {"text": board["status"]},
        "intent": "order",
        "priority": PRIORITY[board["urgency"]],
        "focus": ref(service_request),
        "for": builder.patient(),
        "encounter": ref(encounter),
        "authoredOn": board["created_at"],
        "lastModified": board["updated_at"],
        "requester": builder.role(requester["id"]) if requester else None,
        "owner": builder.council(),
        "output": _decision_outputs(builder, board["questions"], board["decisions"]) or None,
    }
    return builder.add(urn("task", str(board["id"])), _compact(resource))


def _decision_outputs(
    builder: BundleBuilder, questions: Sequence[Json], decisions: Sequence[Json]
) -> list[Json]:
    """The latest signed decision: the whole text, then each part on its own."""
    decision = next((d for d in reversed(decisions) if d["status"] == "signed"), None)
    if decision is None:
        return []
    answers = {a["question"]: a["answer"] for a in decision["answers"]}
    lines = [
        f"Question {q['number']}: {q['text']}\nConclusion: {answers.get(q['number'], '')}"
        for q in questions
    ]
    lines.append(f"Treatment direction: {decision['treatment_direction']}")
    lines.append(f"Transfer: {'yes' if decision['transfer'] else 'no'}")
    if decision["follow_up"]:
        lines.append(f"Follow-up: {decision['follow_up']}")
    signer = decision["signed_by"]["full_name"] if decision["signed_by"] else ""
    lines.append(
        f"Signed by {signer} at {decision['signed_at']}; SHA-256 {decision['content_sha256']}"
    )
    if decision["amends"]:
        lines.append(f"Amends decision {decision['amends']}")
    outputs = [
        _output("decision", f"Signed decision {decision['id']}", valueString="\n\n".join(lines))
    ]
    outputs += [
        _output(
            "answer",
            f"Conclusion for question {q['number']}: {q['text']}",
            valueString=answers.get(q["number"], ""),
        )
        for q in questions
    ]
    outputs.append(
        _output(
            "treatment-direction",
            "Treatment direction",
            valueString=decision["treatment_direction"],
        )
    )
    outputs.append(
        _output("transfer", "Transfer to another facility", valueBoolean=decision["transfer"])
    )
    if decision["follow_up"]:
        outputs.append(_output("follow-up", "Follow-up", valueString=decision["follow_up"]))
    outputs += [
        _output("dissent", f"Dissent of {o['user']['full_name']}", valueString=o["reason"])
        for o in decision["opinions"]
        if o["stance"] == "dissent"
    ]
    outputs.append(
        _output("signature", "Decision content SHA-256", valueString=decision["content_sha256"])
    )
    if signer:
        outputs.append(
            _output(
                "signed-by",
                "Signed by",
                valueReference=builder.practitioner(decision["signed_by"]["id"]),
            )
        )
    return outputs


def _communication(
    builder: BundleBuilder, note: Json, service_request: str, encounter: str
) -> None:
    board = builder.record["board"]
    resource: Json = {
        "resourceType": "Communication",
        "identifier": [{"system": NOTE_SYSTEM, "value": str(note["id"])}],
        "basedOn": [ref(service_request)],
        "status": "completed",
        "subject": builder.patient(),
        "encounter": ref(encounter),
        "sent": note["created_at"],
        "recipient": [builder.council()],
        "sender": builder.practitioner(note["author"]["id"]) if note["author"] else None,
        "payload": [{"contentString": note["body"]}],
        "note": _note_remarks(note) or None,
    }
    builder.add(urn("note", f"{board['id']}/{note['id']}"), _compact(resource))


def _note_remarks(note: Json) -> list[Json]:
    remarks = []
    if note["question"] is not None:
        remarks.append({"text": f"About question {note['question']}"})
    if note["supersedes"] is not None:
        remarks.append({"text": f"Corrects note {note['supersedes']}"})
    if note.get("superseded_by") is not None:
        remarks.append({"text": f"Corrected by note {note['superseded_by']}"})
    return remarks


def _compact(resource: Json) -> Json:
    """FHIR forbids empty or null elements: leave them out."""
    return {key: value for key, value in resource.items() if value not in (None, [], {})}
