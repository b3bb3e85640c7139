"""Walking the whole chain and naming the first position where it no longer holds, then
the first signed record (a decision, a note) that no longer matches the hash the chain
recorded for it.

The walk reads the table in seq order in batches, each in a short transaction of its own,
so memory stays constant and writers are never held up for long (on SQLite every
transaction takes the write lock). Rows are only ever appended at the end, so batches
read one after another still see one consistent prefix of the chain.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from telemed.audit.chain import GENESIS_HASH, values_hash
from telemed.audit.checkpoints import Checkpoint
from telemed.audit.repository import AuditRepository

DEFAULT_BATCH = 5000


@dataclass(frozen=True)
class AlteredRecord:
    """A signed record that no longer matches what the chain recorded for it."""

    kind: str  # "decision" or "note"
    id: int
    case_id: int
    # The audit row that recorded its hash; None when no row ever recorded it.
    seq: int | None
    reason: str

    def as_json(self) -> dict[str, Any]:
        return {"type": self.kind, "id": self.id, "case_id": self.case_id}


class RecordCheck(Protocol):
    """Checks records outside the audit table against the hashes the chain holds."""

    async def first_altered(self) -> AlteredRecord | None: ...


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    rows: int
    first_bad_seq: int | None = None
    reason: str | None = None
    checkpoint: Checkpoint | None = None
    record: AlteredRecord | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "rows": self.rows,
            "first_bad_seq": self.first_bad_seq,
            "reason": self.reason,
            "checkpoint": self.checkpoint.signed_part() if self.checkpoint else None,
            "record": self.record.as_json() if self.record else None,
        }


class Broken(Exception):
    def __init__(self, seq: int, reason: str) -> None:
        super().__init__(reason)
        self.seq = seq
        self.reason = reason


class ChainWalk:
    """Checks rows fed in seq order; raises ``Broken`` at the first inconsistency."""

    def __init__(self, checkpoint: Checkpoint | None = None) -> None:
        self.checkpoint = checkpoint
        self.expected = 1
        self.prev_hash = GENESIS_HASH
        # The hash the previous row linked to: lets an inserted row be named as such.
        self.before_prev: str | None = None

    @property
    def rows(self) -> int:
        return self.expected - 1

    def feed(self, row: Mapping[Any, Any]) -> None:
        seq = row["seq"]
        expected = self.expected
        if seq > expected:
            missing = (
                f"row {expected} is" if seq == expected + 1 else f"rows {expected}-{seq - 1} are"
            )
            raise Broken(expected, f"{missing} missing: deleted from the chain")
        if seq < expected:
            raise Broken(seq, f"row {seq} is out of sequence: inserted into the chain")
        if not hmac.compare_digest(row["prev_hash"], self.prev_hash):
            if self.before_prev is not None and row["prev_hash"] == self.before_prev:
                raise Broken(
                    seq - 1, f"row {seq - 1} was inserted: row {seq} links to the row before it"
                )
            raise Broken(
                seq,
                f"row {seq} does not link to row {seq - 1}: "
                "a row was deleted, inserted or moved here",
            )
        if not hmac.compare_digest(values_hash(self.prev_hash, row), row["hash"]):
            raise Broken(seq, f"row {seq} does not match its hash: it was edited")
        checkpoint = self.checkpoint
        if checkpoint is not None and seq == checkpoint.seq and row["hash"] != checkpoint.hash:
            raise Broken(
                seq,
                f"row {seq} no longer has the hash of the checkpoint: "
                "the chain up to it was rewritten",
            )
        self.before_prev, self.prev_hash = self.prev_hash, row["hash"]
        self.expected += 1

    def finish(self) -> None:
        checkpoint = self.checkpoint
        if checkpoint is not None and self.rows < checkpoint.seq:
            raise Broken(
                self.rows + 1,
                f"the chain ends at row {self.rows} but the checkpoint covers row "
                f"{checkpoint.seq}: rows were removed from the end",
            )


class ChainVerifier:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        batch_size: int = DEFAULT_BATCH,
        records: Sequence[RecordCheck] = (),
    ) -> None:
        self._sessionmaker = sessionmaker
        self._batch_size = batch_size
        self._records = records

    async def verify(self, checkpoint: Checkpoint | None = None) -> VerifyResult:
        """Walk the chain; with a checkpoint (already checked to be signed by this server's
        key), also require that the chain still reaches it with the same hash. Once the
        chain holds, the records it binds are checked against it."""
        walk = ChainWalk(checkpoint)
        after: int | None = None
        try:
            while True:
                async with self._sessionmaker() as db, db.begin():
                    batch = await AuditRepository(db).chain_batch(after, self._batch_size)
                for row in batch:
                    walk.feed(row)
                if len(batch) < self._batch_size:
                    break
                after = batch[-1]["seq"]
            walk.finish()
        except Broken as broken:
            return VerifyResult(False, walk.rows, broken.seq, broken.reason, checkpoint)
        for check in self._records:
            altered = await check.first_altered()
            if altered is not None:
                return VerifyResult(
                    False, walk.rows, altered.seq, altered.reason, checkpoint, altered
                )
        return VerifyResult(True, walk.rows, checkpoint=checkpoint)
