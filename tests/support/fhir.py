"""The case as a FHIR R4 Bundle, read and checked (the FHIR and identity tests)."""

from __future__ import annotations

from typing import Any

from fhir.resources.R4B.bundle import Bundle

from tests.support.server import SignedIn

V3_ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
# fhir.resources checks structure and types, not the value sets of codes: these do.
TASK_CODES = {
    "draft", "requested", "received", "accepted", "rejected", "ready", "cancelled",
    "in-progress", "on-hold", "failed", "completed", "entered-in-error",
}  # fmt: skip
REQUEST_CODES = {"draft", "active", "on-hold", "revoked", "completed", "entered-in-error"}
ENCOUNTER_CODES = {"planned", "arrived", "triaged", "in-progress", "onleave", "finished"} | {
    "cancelled",
    "entered-in-error",
    "unknown",
}


async def export(who: SignedIn, case_id: int, expect: int = 200) -> dict[str, Any]:
    async with who.http.get(f"/api/v1/cases/{case_id}/fhir", headers=who.bearer) as response:
        body: dict[str, Any] = await response.json(content_type=None)
        assert response.status == expect, body
        if expect == 200:
            assert response.content_type == "application/fhir+json"
        return body


def only(bundle: dict[str, Any], resource_type: str) -> dict[str, Any]:
    found = every(bundle, resource_type)
    assert len(found) == 1, (resource_type, len(found))
    return found[0]


def every(bundle: dict[str, Any], resource_type: str) -> list[dict[str, Any]]:
    return [
        e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == resource_type
    ]


def check_bundle(bundle: dict[str, Any]) -> None:
    """Valid R4 (R4B models), and every reference resolves to an entry of the bundle."""
    Bundle.model_validate(bundle)
    urls = [entry["fullUrl"] for entry in bundle["entry"]]
    assert len(urls) == len(set(urls))
    for entry in bundle["entry"]:
        assert entry["fullUrl"] == f"urn:uuid:{entry['resource']['id']}"
    for reference in references(bundle["entry"]):
        assert reference in urls, reference
    assert only(bundle, "Task")["status"] in TASK_CODES
    assert only(bundle, "ServiceRequest")["status"] in REQUEST_CODES
    assert only(bundle, "Encounter")["status"] in ENCOUNTER_CODES


def references(node: object) -> list[str]:
    if isinstance(node, dict):
        found = [node["reference"]] if isinstance(node.get("reference"), str) else []
        return found + [r for value in node.values() for r in references(value)]
    if isinstance(node, list):
        return [r for value in node for r in references(value)]
    return []
