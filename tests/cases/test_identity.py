"""Patient identity: participants see it, each read audited; anyone else as for a missing
case; sealed at rest (the database file holds none of it); in the minutes and in FHIR only
for a reader who may see it; never in the board, the events or the list."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from telemed import appkeys
from telemed.audit.models import AuditRecord
from telemed.cases.identity_cipher import IdentityCipher, IdentityKeyError, IdentityUnreadable
from telemed.settings import Settings
from tests.support.api import call
from tests.support.cases import act, create_case, decide
from tests.support.documents import get
from tests.support.fhir import check_bundle, export, only
from tests.support.guests import guest_from, invite
from tests.support.server import RunningServer, SignedIn

IDENTITY: dict[str, Any] = {
    "full_name": "Nguyễn Thị Bích Ngọc",
    "date_of_birth": "1958-03-14",
    "national_id": "096158001234",
    "health_insurance_number": "HT3960123456789",
    "hospital_record_number": "BA-2026-00777",
}
SECRETS = [str(value) for value in IDENTITY.values()]


def identity_path(case_id: int) -> str:
    return f"/api/v1/cases/{case_id}/identity"


async def audit_rows(server: RunningServer, case_id: int, action: str) -> list[tuple[str, str]]:
    async with server.app[appkeys.SESSIONMAKER]() as db:
        rows = await db.scalars(
            select(AuditRecord)
            .where(AuditRecord.case_id == case_id, AuditRecord.action == action)
            .order_by(AuditRecord.seq)
        )
        return [(r.actor_username or "", r.outcome) for r in rows]


def holds_no_identity(value: object) -> None:
    text = json.dumps(value, ensure_ascii=False)
    for secret in SECRETS:
        assert secret not in text, secret


async def test_participants_see_the_identity_and_every_read_is_audited(
    server: RunningServer,
) -> None:
    doctor = await server.sign_in("bs.namcan")
    case_id = int((await create_case(doctor, identity=IDENTITY))["id"])
    readers = [doctor, await server.sign_in("gs.chutoa"), await server.sign_in("gs.timmach")]
    for reader in readers:
        seen = await call(reader, "GET", identity_path(case_id))
        assert seen["identity"] == IDENTITY
        assert seen["editable"] is (reader is doctor)
    assert await audit_rows(server, case_id, "case.identity.view") == [
        ("bs.namcan", "success"),
        ("gs.chutoa", "success"),
        ("gs.timmach", "success"),
    ]
    # The pseudonymous code stays everywhere else: the board, the log, the list.
    board = await call(doctor, "GET", f"/api/v1/cases/{case_id}")
    events = await call(doctor, "GET", f"/api/v1/cases/{case_id}/events")
    listed = await call(readers[1], "GET", "/api/v1/cases")
    for shown in (board, events, listed):
        holds_no_identity(shown)
    assert [e["type"] for e in events["events"]] == ["case.created", "case.identity_updated"]
    assert events["events"][1]["data"] == {"fields": list(IDENTITY)}


async def test_anyone_else_is_answered_as_for_a_missing_case(server: RunningServer) -> None:
    doctor = await server.sign_in("bs.namcan")
    chair = await server.sign_in("gs.chutoa")
    case_id = int((await create_case(doctor, identity=IDENTITY))["id"])
    await act(chair, case_id, "accept")
    guest_invite = await invite(chair, case_id)
    guest = await guest_from(server, guest_invite)
    as_guest = SignedIn("guest", guest.token, guest.csrf_token, guest.user, guest.http)
    missing = await call(doctor, "GET", identity_path(999_999), expect=404)
    outsiders = ["bs.uminh", "gs.thankinh", "kiemtra"]
    for who in [*[await server.sign_in(name) for name in outsiders], as_guest]:
        assert await call(who, "GET", identity_path(case_id), expect=404) == missing
        body = {"full_name": "X"}
        assert await call(who, "PUT", identity_path(case_id), body, expect=404) == missing
    denied = await audit_rows(server, case_id, "case.identity.view")
    assert [outcome for _, outcome in denied] == ["denied"] * 4
    assert [name for name, _ in denied][:3] == outsiders


async def test_the_requesting_doctor_edits_it_while_the_case_is_open(
    server: RunningServer,
) -> None:
    doctor = await server.sign_in("bs.namcan")
    chair = await server.sign_in("gs.chutoa")
    case_id = int((await create_case(doctor))["id"])
    assert (await call(doctor, "GET", identity_path(case_id)))["identity"] is None
    first = {"full_name": "Trần Văn Bình", "hospital_record_number": "BA-1"}
    assert (await call(doctor, "PUT", identity_path(case_id), first))["identity"] == first
    second = {**first, "hospital_record_number": "BA-2", "national_id": "001"}
    await call(doctor, "PUT", identity_path(case_id), second)
    await call(doctor, "PUT", identity_path(case_id), second)  # no change: no event
    await call(chair, "PUT", identity_path(case_id), first, expect=403)
    bad = {"national_id": "<script>"}
    await call(doctor, "PUT", identity_path(case_id), bad, expect=422)
    assert (await call(chair, "GET", identity_path(case_id)))["identity"] == second
    events = (await call(doctor, "GET", f"/api/v1/cases/{case_id}/events"))["events"]
    updates = [e["data"] for e in events if e["type"] == "case.identity_updated"]
    assert updates == [
        {"fields": ["full_name", "hospital_record_number"]},
        {"fields": ["national_id", "hospital_record_number"]},
    ]
    # Clearing every field removes the identity.
    await call(doctor, "PUT", identity_path(case_id), {})
    assert (await call(chair, "GET", identity_path(case_id)))["identity"] is None
    await act(doctor, case_id, "cancel")
    await call(doctor, "PUT", identity_path(case_id), first, expect=409)
    assert await audit_rows(server, case_id, "case.identity.update") == [
        ("bs.namcan", "success"),
        ("bs.namcan", "success"),
        ("bs.namcan", "success"),
        ("gs.chutoa", "denied"),
        ("bs.namcan", "success"),
        ("bs.namcan", "error"),  # the case is cancelled
    ]


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_the_database_file_holds_no_identity_in_clear(
    server: RunningServer, settings: Settings
) -> None:
    doctor = await server.sign_in("bs.namcan")
    case_id = int((await create_case(doctor, identity=IDENTITY))["id"])
    assert (await call(doctor, "GET", identity_path(case_id)))["identity"] == IDENTITY
    database = Path(settings.effective_database_url.split("///", 1)[1])
    with sqlite3.connect(database) as connection:  # fold the WAL into the file
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        sealed = connection.execute(
            "SELECT sealed FROM case_identities WHERE case_id = ?", (case_id,)
        ).fetchone()[0]
    stored = b"".join(
        path.read_bytes() for path in database.parent.glob(database.name + "*") if path.is_file()
    )
    assert sealed in stored
    for secret in SECRETS:
        for encoded in (secret.encode(), secret.encode("utf-16-le")):
            assert encoded not in stored, secret
    key = settings.data_dir / "identity.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    # The sealed bytes open with the key, for this case only.
    cipher = IdentityCipher.from_settings(settings)
    assert cipher.open(case_id, sealed) == IDENTITY
    with pytest.raises(IdentityUnreadable):
        cipher.open(case_id + 1, sealed)


def test_a_configured_key_is_used_and_a_malformed_one_refused(tmp_path: Path) -> None:
    key = IdentityCipher.from_settings(Settings(data_dir=tmp_path / "a"))
    configured = (tmp_path / "a" / "identity.key").read_text()
    again = IdentityCipher.from_settings(Settings(data_dir=tmp_path / "b", identity_key=configured))
    assert again.open(7, key.seal(7, {"full_name": "A"})) == {"full_name": "A"}
    assert not (tmp_path / "b" / "identity.key").exists()
    for wrong in ("not base64!", "c2hvcnQ="):
        with pytest.raises(IdentityKeyError):
            IdentityCipher.from_settings(Settings(data_dir=tmp_path, identity_key=wrong))
    assert "identity_key" not in repr(Settings(identity_key=configured)).split("identity_key=")[0]
    assert configured.strip() not in repr(Settings(identity_key=configured))
    assert os.environ.get("TELEMED_IDENTITY_KEY") is None


async def test_the_minutes_name_the_patient_and_the_reading_is_audited(
    server: RunningServer,
) -> None:
    doctor = await server.sign_in("bs.namcan")
    case_id, _ = await decide(server, doctor)
    html, _ = await get(doctor, f"/api/v1/cases/{case_id}/minutes?lang=vi")
    assert IDENTITY["full_name"].encode() not in html
    assert await audit_rows(server, case_id, "case.identity.view") == []
    await call(doctor, "PUT", identity_path(case_id), IDENTITY)
    html, _ = await get(doctor, f"/api/v1/cases/{case_id}/minutes?lang=vi")
    text = html.decode()
    assert IDENTITY["full_name"] in text
    assert "14/03/1958" in text
    for field in ("national_id", "health_insurance_number", "hospital_record_number"):
        assert IDENTITY[field] in text
    assert await audit_rows(server, case_id, "case.identity.view") == [("bs.namcan", "success")]


async def test_fhir_carries_the_identity_only_when_there_is_one_to_show(
    server: RunningServer,
) -> None:
    doctor = await server.sign_in("bs.namcan")
    plain = int((await create_case(doctor))["id"])
    named = int((await create_case(doctor, identity=IDENTITY, patient_code="NC-9"))["id"])
    without = await export(doctor, plain)
    check_bundle(without)
    patient = only(without, "Patient")
    assert "name" not in patient
    assert patient["birthDate"] == "1958"
    assert len(patient["identifier"]) == 1
    bundle = await export(await server.sign_in("gs.timmach"), named)
    check_bundle(bundle)
    patient = only(bundle, "Patient")
    assert patient["name"] == [{"use": "official", "text": IDENTITY["full_name"]}]
    assert patient["birthDate"] == IDENTITY["date_of_birth"]
    values = {i["system"].rsplit(":", 1)[-1]: i["value"] for i in patient["identifier"]}
    assert values == {
        "patient": "NC-9",
        "record": IDENTITY["hospital_record_number"],
        "national-id": IDENTITY["national_id"],
        "health-insurance": IDENTITY["health_insurance_number"],
    }
    # Outside the Patient resource, the pseudonymous code only.
    others = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] != "Patient"]
    holds_no_identity(others)
    assert await audit_rows(server, named, "case.identity.view") == [("gs.timmach", "success")]
    await export(await server.sign_in("kiemtra"), named, expect=403)
