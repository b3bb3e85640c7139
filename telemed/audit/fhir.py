"""Audit rows as FHIR R4 AuditEvents, shaped after IHE Basic Audit Log Patterns (BALP)."""

from __future__ import annotations

import ipaddress
from typing import Any

from telemed.audit.chain import timestamp
from telemed.audit.models import AuditRecord

DCM = "http://dicom.nema.org/resources/ontology/DCM"
EVENT_TYPE = "http://terminology.hl7.org/CodeSystem/audit-event-type"
RESTFUL = "http://hl7.org/fhir/restful-interaction"
SOURCE_TYPE = "http://terminology.hl7.org/CodeSystem/security-source-type"
ENTITY_TYPE = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
OBJECT_ROLE = "http://terminology.hl7.org/CodeSystem/object-role"
PARTICIPATION = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
BALP_ENTITY = "https://profiles.ihe.net/ITI/BALP/CodeSystem/BasicAuditEntityType"
# Telemed's own action names ("note.create") ride along as a second subtype coding.
TELEMED_ACTION = "urn:telemed:audit-action"
TELEMED_OBJECT = "urn:telemed:object"
CHAIN_HASH = "urn:telemed:audit-chain-hash"

OUTCOME_CODES = {"success": "0", "denied": "4", "error": "8"}

# The verb is the last part of the action name; anything not listed changes state (U)
# when it concerns a case and is an operation (E) otherwise.
_VERBS: dict[str, tuple[str, str]] = {
    "create": ("C", "create"),
    "upload": ("C", "create"),
    "read": ("R", "read"),
    "view": ("R", "read"),
    "events": ("R", "history-instance"),
    "download": ("R", "read"),
    "list": ("E", "search-type"),
    "query": ("E", "search-type"),
    "export": ("E", "search-type"),
    "delete": ("D", "delete"),
    "member_remove": ("D", "delete"),
    "disable": ("U", "update"),
    "member_set": ("U", "update"),
}

_AUTHENTICATION = {
    "auth.login": ("110122", "Login"),
    "auth.login_failed": ("110122", "Login"),
    "auth.logout": ("110123", "Logout"),
    # A step-up is a sign-in again, within the session, before a signature.
    "auth.step_up": ("110122", "Login"),
    "auth.step_up_failed": ("110122", "Login"),
}


def _kind(record: AuditRecord) -> tuple[dict[str, str], list[dict[str, str]], str]:
    """type, subtypes and action code."""
    own = {"system": TELEMED_ACTION, "code": record.action}
    if record.action in _AUTHENTICATION:
        code, display = _AUTHENTICATION[record.action]
        kind = {"system": DCM, "code": "110114", "display": "User Authentication"}
        return kind, [{"system": DCM, "code": code, "display": display}, own], "E"
    verb = record.action.rsplit(".", 1)[-1]
    action, interaction = _VERBS.get(verb, ("U" if record.case_id else "E", "update"))
    if action == "E" and interaction == "update":
        interaction = "operation"
    kind = {"system": EVENT_TYPE, "code": "rest", "display": "Restful Operation"}
    return kind, [{"system": RESTFUL, "code": interaction}, own], action


def _network(address: str) -> dict[str, str]:
    try:
        ipaddress.ip_address(address)
    except ValueError:
        return {"address": address, "type": "1"}  # machine name ("cli")
    return {"address": address, "type": "2"}  # IP address


def _agent(record: AuditRecord) -> dict[str, Any]:
    username = record.actor_username or "unknown"
    who: dict[str, Any] = {"display": username}
    if record.actor_id is not None:
        who["reference"] = f"Practitioner/{record.actor_id}"
    else:
        who["identifier"] = {"system": "urn:telemed:username", "value": username}
    agent: dict[str, Any] = {
        "type": {"coding": [{"system": PARTICIPATION, "code": "IRCP"}]},
        "who": who,
        "altId": username,
        "requestor": True,
        "network": _network(record.address),
    }
    if record.actor_role:
        agent["role"] = [{"coding": [{"system": "urn:telemed:role", "code": record.actor_role}]}]
    return agent


def _entities(record: AuditRecord) -> list[dict[str, Any]]:
    entities: list[dict[str, Any]] = []
    if record.case_id is not None:
        entities.append(
            {
                "what": {
                    "reference": f"ServiceRequest/{record.case_id}",
                    "display": f"Case {record.case_id}",
                },
                "type": {"system": ENTITY_TYPE, "code": "2", "display": "System Object"},
                "role": {"system": OBJECT_ROLE, "code": "4", "display": "Domain Resource"},
            }
        )
    if record.object_id is not None:
        kind = record.action.split(".", 1)[0]
        entities.append(
            {
                "what": {
                    "identifier": {"system": f"{TELEMED_OBJECT}:{kind}", "value": record.object_id}
                },
                "type": {"system": ENTITY_TYPE, "code": "2", "display": "System Object"},
                "name": kind,
            }
        )
    entities.append(
        {
            "what": {"identifier": {"value": record.request_id}},
            "type": {"system": BALP_ENTITY, "code": "XrequestId"},
        }
    )
    return entities


def audit_event(record: AuditRecord, server: str) -> dict[str, Any]:
    """One row as an AuditEvent; ``server`` names this Telemed (the observer)."""
    kind, subtypes, action = _kind(record)
    return {
        "resourceType": "AuditEvent",
        "id": f"telemed-audit-{record.seq}",
        "extension": [{"url": CHAIN_HASH, "valueString": record.hash}],
        "type": kind,
        "subtype": subtypes,
        "action": action,
        "recorded": timestamp(record.at),
        "outcome": OUTCOME_CODES.get(record.outcome, "8"),
        "outcomeDesc": record.outcome,
        "agent": [_agent(record)],
        "source": {
            "site": server,
            "observer": {"display": server},
            "type": [{"system": SOURCE_TYPE, "code": "4", "display": "Application Server"}],
        },
        "entity": _entities(record),
    }
