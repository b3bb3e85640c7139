"""Any single edit, deletion, insertion, reordering or truncation of audit rows is found by
verification at the row where it happened; a rewritten tail only against a checkpoint.

The chain is built through AuditLog; the tampering is raw SQL after dropping the
append-only triggers, as an attacker with database rights would do."""

from __future__ import annotations

import string
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncEngine

from telemed.audit.checkpoints import Checkpoint, CheckpointSigner
from telemed.audit.verify import ChainVerifier
from telemed.db.engine import create_engine, create_sessionmaker
from tests.support.audit import (
    Row,
    all_rows,
    append_rows,
    delete_row,
    drop_append_only_triggers,
    edit,
    forged_row,
    insert_row,
    restore,
    rewrite_from,
    swap,
    truncate,
)

PROPERTY = settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@dataclass
class Chain:
    engine: AsyncEngine
    rows: list[Row]
    # A small batch so that tampering lands on batch boundaries too.
    verifier: ChainVerifier
    signer: CheckpointSigner

    @property
    def length(self) -> int:
        return len(self.rows)

    async def reset(self) -> None:
        await restore(self.engine, self.rows)

    def checkpoint(self, seq: int) -> Checkpoint:
        return self.signer.sign(seq, self.rows[seq - 1]["hash"], datetime.now(UTC))


@pytest.fixture
async def chain(database_url: str) -> AsyncIterator[Chain]:
    engine = create_engine(database_url)
    sessionmaker = create_sessionmaker(engine)
    try:
        await append_rows(sessionmaker, 20)  # after the demo network's own rows
        await drop_append_only_triggers(engine)
        rows = await all_rows(engine)
        signer = CheckpointSigner(Ed25519PrivateKey.generate())
        yield Chain(engine, rows, ChainVerifier(sessionmaker, batch_size=7), signer)
    finally:
        await engine.dispose()


HEX = st.text(alphabet="0123456789abcdef", min_size=64, max_size=64)
WORD = st.text(alphabet=string.ascii_letters + string.digits + ".-", min_size=1, max_size=20)
ID = st.integers(min_value=1, max_value=10**6)
CHANGES: dict[str, st.SearchStrategy[Any]] = {
    "at": st.integers(min_value=-(10**9), max_value=10**9).filter(bool),
    "actor_id": ID,
    "actor_username": WORD,
    "actor_role": WORD,
    "actor_facility": WORD,
    "address": WORD,
    "action": WORD,
    "case_id": ID,
    "object_id": WORD,
    "outcome": st.sampled_from(["success", "denied", "error"]),
    "request_id": WORD,
    "content_hash": HEX,
    "prev_hash": HEX,
    "hash": HEX,
}


def _changed(data: st.DataObject, row: Row, *, links: bool = True) -> dict[str, Any]:
    fields = [name for name in sorted(CHANGES) if links or name not in ("hash", "prev_hash")]
    field = data.draw(st.sampled_from(fields), label="field")
    if field == "at":
        micros = data.draw(CHANGES["at"], label="shift in microseconds")
        return {"at": row["at"] + timedelta(microseconds=micros)}
    value = data.draw(CHANGES[field].filter(lambda v: v != row[field]), label="value")
    return {field: value}


@PROPERTY
@given(data=st.data())
async def test_any_edited_field_is_found_at_its_row(chain: Chain, data: st.DataObject) -> None:
    await chain.reset()
    seq = data.draw(st.integers(1, chain.length), label="seq")
    await edit(chain.engine, seq, **_changed(data, chain.rows[seq - 1]))
    result = await chain.verifier.verify()
    assert (result.ok, result.first_bad_seq) == (False, seq), result.reason


@PROPERTY
@given(data=st.data())
async def test_a_row_moved_out_of_its_place_is_found(chain: Chain, data: st.DataObject) -> None:
    await chain.reset()
    seq = data.draw(st.integers(1, chain.length), label="seq")
    await edit(chain.engine, seq, seq=chain.length + data.draw(st.integers(1, 50)))
    result = await chain.verifier.verify()
    assert (result.ok, result.first_bad_seq) == (False, seq)
    assert result.reason is not None
    assert "missing" in result.reason


@PROPERTY
@given(data=st.data())
async def test_any_deleted_row_is_found_even_when_the_rest_is_renumbered(
    chain: Chain, data: st.DataObject
) -> None:
    await chain.reset()
    seq = data.draw(st.integers(1, chain.length - 1), label="seq")
    renumber = data.draw(st.booleans(), label="renumber")
    await delete_row(chain.engine, seq, renumber=renumber)
    result = await chain.verifier.verify()
    assert (result.ok, result.first_bad_seq) == (False, seq), result.reason


@PROPERTY
@given(data=st.data())
async def test_any_inserted_row_is_found_at_its_position(chain: Chain, data: st.DataObject) -> None:
    await chain.reset()
    seq = data.draw(st.integers(1, chain.length), label="seq")
    well_chained = data.draw(st.booleans(), label="well chained")
    await insert_row(chain.engine, forged_row(chain.rows, seq, well_chained=well_chained))
    result = await chain.verifier.verify()
    assert (result.ok, result.first_bad_seq) == (False, seq), result.reason
    if well_chained:
        assert result.reason is not None
        assert "inserted" in result.reason


@PROPERTY
@given(data=st.data())
async def test_any_two_swapped_rows_are_found_at_the_first(
    chain: Chain, data: st.DataObject
) -> None:
    await chain.reset()
    first = data.draw(st.integers(1, chain.length - 1), label="first")
    second = data.draw(st.integers(first + 1, chain.length), label="second")
    await swap(chain.engine, first, second)
    result = await chain.verifier.verify()
    assert (result.ok, result.first_bad_seq) == (False, first), result.reason


@PROPERTY
@given(data=st.data())
async def test_a_truncated_tail_passes_alone_but_fails_against_a_checkpoint(
    chain: Chain, data: st.DataObject
) -> None:
    await chain.reset()
    keep = data.draw(st.integers(1, chain.length - 1), label="rows kept")
    checkpoint_seq = data.draw(st.integers(1, chain.length), label="checkpoint")
    await truncate(chain.engine, keep)
    alone = await chain.verifier.verify()
    assert (alone.ok, alone.rows) == (True, keep)
    pinned = await chain.verifier.verify(chain.checkpoint(checkpoint_seq))
    if checkpoint_seq <= keep:
        assert pinned.ok, pinned.reason
    else:
        assert (pinned.ok, pinned.first_bad_seq) == (False, keep + 1), pinned.reason


@PROPERTY
@given(data=st.data())
async def test_a_rewritten_tail_passes_alone_but_fails_against_a_checkpoint(
    chain: Chain, data: st.DataObject
) -> None:
    await chain.reset()
    seq = data.draw(st.integers(1, chain.length), label="seq")
    checkpoint_seq = data.draw(st.integers(1, chain.length), label="checkpoint")
    # The links are recomputed by the rewrite, so only the content is worth changing.
    await rewrite_from(chain.engine, seq, **_changed(data, chain.rows[seq - 1], links=False))
    alone = await chain.verifier.verify()
    assert (alone.ok, alone.rows) == (True, chain.length), alone.reason
    pinned = await chain.verifier.verify(chain.checkpoint(checkpoint_seq))
    if checkpoint_seq < seq:
        assert pinned.ok, pinned.reason
    else:
        assert (pinned.ok, pinned.first_bad_seq) == (False, checkpoint_seq)
        assert pinned.reason is not None
        assert "rewritten" in pinned.reason


async def test_an_untouched_chain_verifies_across_batches(chain: Chain) -> None:
    checkpoint = chain.checkpoint(chain.length)
    result = await chain.verifier.verify(checkpoint)
    assert result.as_json() == {
        "ok": True,
        "rows": chain.length,
        "first_bad_seq": None,
        "reason": None,
        "checkpoint": {"seq": chain.length, "hash": chain.rows[-1]["hash"], "at": checkpoint.at},
        "record": None,
    }
    assert [row["seq"] for row in chain.rows] == list(range(1, chain.length + 1))


async def test_a_checkpoint_signed_by_another_key_or_altered_is_refused(chain: Chain) -> None:
    checkpoint = chain.checkpoint(chain.length)
    assert chain.signer.problem(checkpoint) is None
    other = CheckpointSigner(Ed25519PrivateKey.generate())
    assert other.problem(checkpoint) == (
        "the checkpoint was signed by another key than this server's"
    )
    for change in ({"seq": 1}, {"hash": "0" * 64}, {"at": "2020-01-01T00:00:00.000000Z"}):
        altered = Checkpoint(**{**checkpoint.as_json(), **change})
        assert chain.signer.problem(altered) == "the checkpoint's signature is not valid"
    garbage = Checkpoint(**{**checkpoint.as_json(), "signature": "not base64!"})
    assert chain.signer.problem(garbage) == "the checkpoint's signature is not valid"
