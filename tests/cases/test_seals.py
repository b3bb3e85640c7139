"""Signed decisions, amendments and notes are sealed in the audit chain: an edit made in
the database afterwards is named by `telemed audit verify` (and GET /api/v1/audit/verify),
and the case's minutes and FHIR export are refused until someone has looked.

The tampering is raw SQL on the tables (or, for the careful attacker, an edit that
recomputes the decision's stored hash), as someone with database rights would do."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text

from telemed import appkeys
from telemed.audit.models import AuditRecord
from telemed.cases.models import Decision, DecisionOpinion, Note
from telemed.cases.seals import SealCheck, decision_hash
from telemed.cli import main
from telemed.db.engine import create_engine, create_sessionmaker
from telemed.shapes import Json
from tests.support.api import call, step_up
from tests.support.cases import DRAFT, decide
from tests.support.documents import TextOf, get
from tests.support.server import RunningServer


@dataclass
class Record:
    """A decided case with an amendment: the ids the tampering aims at."""

    case_id: int
    first: Json
    amendment: Json
    notes: list[int]

    async def sql(self, server: RunningServer, statement: str, **values: Any) -> None:
        async with server.app[appkeys.SESSIONMAKER]() as db, db.begin():
            await db.execute(text(statement), values)

    async def seal_seq(self, server: RunningServer, action: str, object_id: int) -> int:
        async with server.app[appkeys.SESSIONMAKER]() as db:
            seq = await db.scalar(
                select(AuditRecord.seq).where(
                    AuditRecord.action == action,
                    AuditRecord.outcome == "success",
                    AuditRecord.object_id == str(object_id),
                )
            )
        assert seq is not None
        return seq


@pytest.fixture
async def record(server: RunningServer) -> Record:
    doctor = await server.sign_in("bs.namcan")
    case_id, first = await decide(server, doctor)
    chair = await server.sign_in("gs.chutoa")
    base = f"/api/v1/cases/{case_id}"
    await call(chair, "PUT", base + "/decision/draft", {**DRAFT, "transfer": False})
    await step_up(chair)
    amendment = await call(chair, "POST", base + "/decision/sign", {"version": 1})
    board = await call(doctor, "GET", base)
    return Record(case_id, first, amendment, [n["id"] for n in board["notes"]])


async def verify(server: RunningServer) -> Json:
    admin = await server.sign_in("kiemtra")
    result: Json = await call(admin, "GET", "/api/v1/audit/verify")
    return result


async def rewrite_decision(server: RunningServer, decision_id: int) -> None:
    """The careful attacker: flips the transfer and recomputes the stored hash to match."""
    async with server.app[appkeys.SESSIONMAKER]() as db, db.begin():
        decision = await db.get(Decision, decision_id)
        assert decision is not None
        opinions = await db.scalars(
            select(DecisionOpinion).where(DecisionOpinion.decision_id == decision_id)
        )
        decision.transfer = not decision.transfer
        decision.content_sha256 = decision_hash(decision, list(opinions))


Tamper = Callable[[RunningServer, Record], Awaitable[tuple[str, int, str | None, str]]]


async def flip_transfer(server: RunningServer, r: Record) -> tuple[str, int, str | None, str]:
    decision_id = r.first["id"]
    await r.sql(
        server, "UPDATE decisions SET transfer = NOT transfer WHERE id = :id", id=decision_id
    )
    return "decision", decision_id, "decision.sign", "its content or opinions were edited"


async def rewrite_with_hash(server: RunningServer, r: Record) -> tuple[str, int, str | None, str]:
    await rewrite_decision(server, r.first["id"])
    return "decision", r.first["id"], "decision.sign", "it was rewritten"


async def edit_amendment(server: RunningServer, r: Record) -> tuple[str, int, str | None, str]:
    decision_id = r.amendment["id"]
    await r.sql(
        server,
        "UPDATE decisions SET treatment_direction = 'Không chuyển viện.' WHERE id = :id",
        id=decision_id,
    )
    return "decision", decision_id, "decision.sign", "its content or opinions were edited"


async def turn_dissent(server: RunningServer, r: Record) -> tuple[str, int, str | None, str]:
    decision_id = r.first["id"]
    await r.sql(
        server,
        "UPDATE decision_opinions SET stance = 'concur', reason = '' WHERE decision_id = :id",
        id=decision_id,
    )
    return "decision", decision_id, "decision.sign", "its content or opinions were edited"


async def unsign_amendment(server: RunningServer, r: Record) -> tuple[str, int, str | None, str]:
    decision_id = r.amendment["id"]
    await r.sql(server, "UPDATE decisions SET status = 'draft' WHERE id = :id", id=decision_id)
    return "decision", decision_id, "decision.sign", "its status was changed"


async def forge_decision(server: RunningServer, r: Record) -> tuple[str, int, str | None, str]:
    """A signed amendment that no one signed, copied from a real one with its hash."""
    await r.sql(
        server,
        "INSERT INTO decisions (case_id, status, version, answers, treatment_direction, "
        "transfer, follow_up, amends_id, drafted_by_id, signed_by_id, signed_at, "
        "content_sha256, created_at, updated_at) "
        "SELECT case_id, status, version, answers, 'Không cần can thiệp.', transfer, "
        "follow_up, id, drafted_by_id, signed_by_id, signed_at, content_sha256, created_at, "
        "updated_at FROM decisions WHERE id = :id",
        id=r.amendment["id"],
    )
    async with server.app[appkeys.SESSIONMAKER]() as db:
        forged = await db.scalar(select(Decision.id).order_by(Decision.id.desc()).limit(1))
    assert forged is not None
    return "decision", forged, None, "it was inserted, or marked signed, in the database"


async def edit_note(server: RunningServer, r: Record) -> tuple[str, int, str | None, str]:
    note_id = r.notes[1]
    await r.sql(server, "UPDATE notes SET body = 'Huyết áp 140/90.' WHERE id = :id", id=note_id)
    return "note", note_id, "note.create", "it was edited"


async def edit_note_html(server: RunningServer, r: Record) -> tuple[str, int, str | None, str]:
    note_id = r.notes[0]
    await r.sql(
        server, "UPDATE notes SET body_html = '<p>Bình thường.</p>' WHERE id = :id", id=note_id
    )
    return "note", note_id, "note.create", "it was edited"


async def delete_note(server: RunningServer, r: Record) -> tuple[str, int, str | None, str]:
    note_id = r.notes[1]
    await r.sql(server, "DELETE FROM notes WHERE id = :id", id=note_id)
    return "note", note_id, "note.create", "it was deleted"


async def forge_note(server: RunningServer, r: Record) -> tuple[str, int, str | None, str]:
    await r.sql(
        server,
        "INSERT INTO notes (case_id, seq, author_id, created_at, body, body_html) "
        "SELECT case_id, seq + 1000, author_id, created_at, 'Đã đồng ý.', '' "
        "FROM notes WHERE id = :id",
        id=r.notes[0],
    )
    async with server.app[appkeys.SESSIONMAKER]() as db:
        forged = await db.scalar(select(Note.id).order_by(Note.id.desc()).limit(1))
    assert forged is not None
    return "note", forged, None, "it was inserted in the database"


TAMPERING: dict[str, Tamper] = {
    "a signed decision's transfer flipped": flip_transfer,
    "a signed decision rewritten with its stored hash": rewrite_with_hash,
    "an amendment's treatment edited": edit_amendment,
    "a dissent turned into a concurrence": turn_dissent,
    "a signed amendment set back to draft": unsign_amendment,
    "a signed amendment forged": forge_decision,
    "a note's text edited": edit_note,
    "a note's shown HTML edited": edit_note_html,
    "a note deleted": delete_note,
    "a note inserted": forge_note,
}


@pytest.mark.parametrize("tampering", list(TAMPERING))
async def test_verification_names_the_changed_record_and_exports_refuse_it(
    server: RunningServer, record: Record, tampering: str
) -> None:
    kind, record_id, sealed_by, says = await TAMPERING[tampering](server, record)
    result = await verify(server)
    assert result["ok"] is False
    assert result["record"] == {"type": kind, "id": record_id, "case_id": record.case_id}
    assert f"{kind} {record_id} of case {record.case_id}" in result["reason"]
    assert says in result["reason"]
    expected_seq = await record.seal_seq(server, sealed_by, record_id) if sealed_by else None
    assert result["first_bad_seq"] == expected_seq

    doctor = await server.sign_in("bs.namcan")
    base = f"/api/v1/cases/{record.case_id}"
    page, content_type = await get(doctor, base + "/minutes", expect=409)
    assert content_type == "text/html"
    assert "Một kết luận đã ký hoặc một ghi chú của ca này đã bị thay đổi" in TextOf.of(
        page.decode()
    )
    english, _ = await get(doctor, base + "/minutes?lang=en", expect=409)
    assert "A signed decision or a note of this case was changed" in TextOf.of(english.decode())
    for suffix in ("minutes.pdf", "fhir"):
        body, content_type = await get(doctor, f"{base}/{suffix}", expect=409)
        assert content_type == "application/json"
        error = json.loads(body)["error"]
        assert error["code"] == "record_altered"
        assert error["record"] == {"type": kind, "id": record_id}
        assert "NC-2026-042" not in body.decode()
    # Each refusal is in the audit trail, as an error of the request that met it.
    async with server.app[appkeys.SESSIONMAKER]() as db:
        refused = (
            await db.scalars(
                select(AuditRecord.action).where(
                    AuditRecord.case_id == record.case_id, AuditRecord.outcome == "error"
                )
            )
        ).all()
    assert sorted(refused) == ["case.fhir_export", "minutes.pdf", "minutes.read", "minutes.read"]


async def test_untouched_decisions_amendments_and_notes_verify_intact(
    server: RunningServer, record: Record, database_url: str
) -> None:
    result = await verify(server)
    assert (result["ok"], result["record"], result["reason"]) == (True, None, None)
    doctor = await server.sign_in("bs.namcan")
    base = f"/api/v1/cases/{record.case_id}"
    for suffix in ("minutes", "minutes.pdf", "fhir"):
        await get(doctor, f"{base}/{suffix}")
    # Both signatures and both notes carry their hash in a chained field.
    async with server.app[appkeys.SESSIONMAKER]() as db:
        sealed = (
            await db.execute(
                select(AuditRecord.action, AuditRecord.object_id, AuditRecord.content_hash)
                .where(AuditRecord.case_id == record.case_id)
                .where(AuditRecord.action.in_(("decision.sign", "note.create")))
                .order_by(AuditRecord.seq)
            )
        ).all()
    assert [(a, int(o or 0)) for a, o, _ in sealed] == [
        *(("note.create", n) for n in record.notes),
        ("decision.sign", record.first["id"]),
        ("decision.sign", record.amendment["id"]),
    ]
    assert sealed[-2][2] == record.first["content_sha256"]
    assert sealed[-1][2] == record.amendment["content_sha256"]
    # A walk in batches of one sees the same.
    engine = create_engine(database_url)
    try:
        assert await SealCheck(create_sessionmaker(engine), batch_size=1).first_altered() is None
    finally:
        await engine.dispose()


async def test_a_sealed_hash_edited_in_the_audit_row_breaks_the_chain_there(
    server: RunningServer, record: Record
) -> None:
    """Changing the seal instead of the record needs the chain rewritten: found at the row."""
    seq = await record.seal_seq(server, "decision.sign", record.first["id"])
    await drop_triggers(server)
    await record.sql(
        server, "UPDATE audit_log SET content_hash = :h WHERE seq = :seq", h="0" * 64, seq=seq
    )
    result = await verify(server)
    assert (result["ok"], result["first_bad_seq"], result["record"]) == (False, seq, None)
    assert "it was edited" in result["reason"]


async def drop_triggers(server: RunningServer) -> None:
    from tests.support.audit import drop_append_only_triggers

    await drop_append_only_triggers(server.app[appkeys.ENGINE])


async def test_the_command_line_names_the_changed_decision(
    server: RunningServer,
    record: Record,
    database_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    await flip_transfer(server, record)
    flags = ["--database-url", database_url, "--data-dir", str(tmp_path / "cli-data")]
    assert await _main(["audit", "verify", *flags]) == 1
    out = capsys.readouterr().out
    assert "a signed record was changed" in out
    assert f"signed decision {record.first['id']} of case {record.case_id}" in out


async def _main(argv: list[str]) -> int:
    """The CLI runs its own event loop: run it in a thread beside the test's."""
    import asyncio

    return await asyncio.to_thread(main, argv)
