"""Reviewing, exporting, verifying and checkpointing the audit trail: administrators only,
and every one of these requests is itself recorded."""

from __future__ import annotations

import csv
import io
import json
import secrets
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from telemed.accounts.models import UserRole
from telemed.accounts.principal import Actor
from telemed.audit.chain import EXPORTED_FIELDS, timestamp
from telemed.audit.checkpoints import Checkpoint, CheckpointSigner
from telemed.audit.fhir import audit_event
from telemed.audit.models import AuditRecord
from telemed.audit.repository import AuditRepository
from telemed.audit.schemas import AuditFilters, AuditQuery, VerifyInput
from telemed.audit.verify import ChainVerifier, RecordCheck, VerifyResult
from telemed.audit.work import AuditedWork
from telemed.clock import Clock
from telemed.errors import AuthenticationRequired, Forbidden
from telemed.shapes import Json

ExportFormat = Literal["csv", "ndjson"]

# The actor of the command line. HTTP actors always carry a principal and an IP address,
# so this one cannot be reached over the network; whoever runs the CLI already holds the
# database and the data directory.
OPERATOR_ADDRESS = "cli"

CSV_COLUMNS = (*EXPORTED_FIELDS, "prev_hash", "hash")


def local_operator(username: str) -> Actor:
    """The actor for ``telemed`` commands run on the server itself."""
    return Actor(None, OPERATOR_ADDRESS, secrets.token_hex(16), attempted_username=username)


def require_admin_or_operator(actor: Actor, refusal: str) -> None:
    """Administrators, and the operator of the ``telemed`` command on the server itself."""
    principal = actor.principal
    if principal is None:
        if actor.address == OPERATOR_ADDRESS:
            return
        raise AuthenticationRequired()
    if principal.role is not UserRole.ADMIN:
        raise Forbidden(refusal)


def authorize_auditor(actor: Actor) -> None:
    require_admin_or_operator(actor, "Only administrators review the audit trail.")


def item_json(record: AuditRecord) -> Json:
    return {
        "seq": record.seq,
        "at": timestamp(record.at),
        "actor": {
            "id": record.actor_id,
            "username": record.actor_username,
            "role": record.actor_role,
            "facility": record.actor_facility,
        },
        "address": record.address,
        "action": record.action,
        "case_id": record.case_id,
        "object_id": record.object_id,
        "outcome": record.outcome,
        "request_id": record.request_id,
        "content_hash": record.content_hash,
        "stepped_up_at": timestamp(record.stepped_up_at) if record.stepped_up_at else None,
        "hash": record.hash,
    }


def _csv_cell(value: object) -> str:
    if value is None:
        return ""
    text = timestamp(value) if isinstance(value, datetime) else str(value)
    # Attempted usernames come from anyone: keep a spreadsheet from running them as formulas.
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + text
    return text


class AuditService:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        work: AuditedWork,
        signer: CheckpointSigner,
        clock: Clock,
        *,
        server_name: str = "Telemed",
        batch_size: int = 1000,
        records: Sequence[RecordCheck] = (),
    ) -> None:
        self._sessionmaker = sessionmaker
        self._work = work
        self._signer = signer
        self._clock = clock
        self._verifier = ChainVerifier(sessionmaker, records=records)
        self._server_name = server_name
        self._batch_size = batch_size

    async def query(self, actor: Actor, query: AuditQuery) -> Json:
        """A page of the trail, newest first, filtered; ``next_cursor`` for the next page."""
        async with self._work(actor, "audit.query", case_id=query.case_id) as unit:
            authorize_auditor(actor)
            before = int(query.cursor) if query.cursor else None
            repo = AuditRepository(unit.db)
            rows = await repo.newest_first(query, before, query.limit + 1)
        page = rows[: query.limit]
        more = len(rows) > query.limit
        return {
            "items": [item_json(record) for record in page],
            "next_cursor": str(page[-1].seq) if more else None,
        }

    async def export(
        self, actor: Actor, filters: AuditFilters, fmt: ExportFormat
    ) -> AsyncIterator[str]:
        """Authorize and record now; the returned lines are read batch by batch, in chain
        order, each batch in a short transaction of its own."""
        async with self._work(actor, "audit.export", case_id=filters.case_id) as unit:
            authorize_auditor(actor)
            unit.entry.object_id = fmt
        return self._lines(filters, fmt)

    async def _lines(self, filters: AuditFilters, fmt: ExportFormat) -> AsyncIterator[str]:
        if fmt == "csv":
            yield _csv_text([CSV_COLUMNS])
        after = 0
        while True:
            async with self._sessionmaker() as db, db.begin():
                batch = await AuditRepository(db).oldest_first(filters, after, self._batch_size)
            if not batch:
                return
            if fmt == "csv":
                yield _csv_text(
                    [[_csv_cell(getattr(record, name)) for name in CSV_COLUMNS] for record in batch]
                )
            else:
                yield "".join(
                    json.dumps(audit_event(record, self._server_name), ensure_ascii=False) + "\n"
                    for record in batch
                )
            after = batch[-1].seq

    async def verify(self, actor: Actor, body: VerifyInput | None = None) -> Json:
        """Walk the chain (outside the recorded transaction, so writers are never held up)."""
        checkpoint = (
            Checkpoint(**body.checkpoint.model_dump()) if body and body.checkpoint else None
        )
        async with self._work(actor, "audit.verify") as unit:
            authorize_auditor(actor)
            if checkpoint is not None:
                unit.entry.object_id = f"checkpoint:{checkpoint.seq}"
        if checkpoint is not None:
            problem = self._signer.problem(checkpoint)
            if problem is not None:
                return VerifyResult(False, 0, None, problem, checkpoint).as_json()
        return (await self._verifier.verify(checkpoint)).as_json()

    async def checkpoint(self, actor: Actor) -> Json:
        """Sign the end of the chain, this request's own row included."""
        async with self._work(actor, "audit.checkpoint"):
            authorize_auditor(actor)
        async with self._sessionmaker() as db, db.begin():
            last = await AuditRepository(db).last()
        assert last is not None, "the checkpoint's own row is in the chain"
        seq, hash_ = last
        return self._signer.sign(seq, hash_, self._clock.now()).as_json()


def _csv_text(rows: list[Any]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue()
