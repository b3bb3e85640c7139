"""The audit trail of a test database: read directly, to see what was recorded; verified
as the server does; built through the real AuditLog; and tampered with as an attacker with
database access would (raw SQL after dropping the append-only triggers)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any, cast

from sqlalchemy import Table, delete, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from telemed.accounts.principal import Actor
from telemed.audit.chain import GENESIS_HASH, values_hash
from telemed.audit.log import AuditEntry, AuditLog, Outcome
from telemed.audit.models import AuditRecord
from telemed.audit.verify import ChainVerifier, VerifyResult
from telemed.audit.work import AuditedWork
from telemed.cases.seals import SealCheck
from telemed.clock import ManualClock
from telemed.db.engine import create_engine, create_sessionmaker

AUDIT = cast(Table, AuditRecord.__table__)
Row = dict[str, Any]

ACTIONS = ["case.read", "note.create", "case.accept", "auth.login", "decision.sign"]


async def append_rows(sessionmaker: async_sessionmaker[AsyncSession], count: int) -> None:
    """Append ``count`` varied rows through AuditLog, as the services do."""
    clock = ManualClock()
    work = AuditedWork(sessionmaker, AuditLog(clock))
    for n in range(count):
        clock.advance(1.5)
        actor = Actor(None, f"10.0.0.{n % 7}", f"req{n}", attempted_username=f"user{n % 3}")
        entry = AuditEntry(ACTIONS[n % len(ACTIONS)], case_id=n % 4 or None, object_id=str(n))
        outcome = Outcome.SUCCESS if n % 5 else Outcome.DENIED
        await work.record_alone(actor, entry, outcome)


async def drop_append_only_triggers(engine: AsyncEngine) -> None:
    """What an attacker with database rights does first."""
    async with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            await connection.execute(text("DROP TRIGGER audit_log_no_update_delete ON audit_log"))
            await connection.execute(text("DROP TRIGGER audit_log_no_truncate ON audit_log"))
        else:
            await connection.execute(text("DROP TRIGGER audit_log_no_update"))
            await connection.execute(text("DROP TRIGGER audit_log_no_delete"))


async def all_rows(engine: AsyncEngine) -> list[Row]:
    async with engine.connect() as connection:
        result = await connection.execute(select(AUDIT).order_by(AUDIT.c.seq))
        return [dict(row) for row in result.mappings()]


async def audit_rows(url: str, **where: Any) -> list[Row]:
    """Every audit row (in chain order) whose fields equal ``where``."""
    engine: AsyncEngine = create_engine(url)
    try:
        rows = await all_rows(engine)
    finally:
        await engine.dispose()
    return [row for row in rows if all(row[key] == value for key, value in where.items())]


async def verify(url: str) -> VerifyResult:
    engine = create_engine(url)
    try:
        sessionmaker = create_sessionmaker(engine)
        return await ChainVerifier(sessionmaker, records=(SealCheck(sessionmaker),)).verify()
    finally:
        await engine.dispose()


async def verified_outcomes(url: str, actions: set[str]) -> list[tuple[str, str]]:
    """(action, outcome) of the rows of ``actions``, in chain order, once the chain (and
    the records it seals) verifies."""
    result = await verify(url)
    assert result.ok, result.reason
    return [
        (row["action"], row["outcome"]) for row in await audit_rows(url) if row["action"] in actions
    ]


async def count_rows(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        return int((await connection.execute(select(func.count()).select_from(AUDIT))).scalar_one())


async def restore(engine: AsyncEngine, rows: Sequence[Row]) -> None:
    async with engine.begin() as connection:
        await connection.execute(delete(AUDIT))
        await connection.execute(insert(AUDIT), list(rows))


async def edit(engine: AsyncEngine, at_seq: int, **values: Any) -> None:
    async with engine.begin() as connection:
        await connection.execute(update(AUDIT).where(AUDIT.c.seq == at_seq).values(**values))


async def _shift(engine: AsyncEngine, first: int, by: int) -> None:
    """Renumber rows from ``first`` on by ``by``, through negative numbers so that the
    primary key never collides midway."""
    async with engine.begin() as connection:
        await connection.execute(
            update(AUDIT).where(AUDIT.c.seq >= first).values(seq=-(AUDIT.c.seq + by))
        )
        await connection.execute(update(AUDIT).where(AUDIT.c.seq < 0).values(seq=-AUDIT.c.seq))


async def delete_row(engine: AsyncEngine, seq: int, *, renumber: bool) -> None:
    async with engine.begin() as connection:
        await connection.execute(delete(AUDIT).where(AUDIT.c.seq == seq))
    if renumber:
        await _shift(engine, seq + 1, -1)


async def truncate(engine: AsyncEngine, keep: int) -> None:
    async with engine.begin() as connection:
        await connection.execute(delete(AUDIT).where(AUDIT.c.seq > keep))


def forged_row(rows: Sequence[Row], seq: int, *, well_chained: bool) -> Row:
    """A plausible row for position ``seq`` (1-based in ``rows``); ``well_chained`` links
    it to the row before and gives it a correct hash, as a careful attacker would."""
    model = dict(rows[seq - 1])
    prev_hash = rows[seq - 2]["hash"] if seq > 1 else GENESIS_HASH
    row = {
        **model,
        "seq": seq,
        "at": model["at"] + timedelta(milliseconds=1),
        "actor_username": "forger",
        "action": "case.read",
        "outcome": "success",
        "prev_hash": prev_hash,
    }
    row["hash"] = values_hash(prev_hash, row) if well_chained else "f" * 64
    return row


async def insert_row(engine: AsyncEngine, row: Row) -> None:
    await _shift(engine, row["seq"], 1)
    async with engine.begin() as connection:
        await connection.execute(insert(AUDIT), [row])


async def swap(engine: AsyncEngine, first: int, second: int) -> None:
    async with engine.begin() as connection:
        for source, target in ((first, 0), (second, first), (0, second)):
            await connection.execute(update(AUDIT).where(AUDIT.c.seq == source).values(seq=target))


async def rewrite_from(engine: AsyncEngine, seq: int, **values: Any) -> None:
    """Edit row ``seq`` and recompute every following hash: a chain that verifies alone."""
    await edit(engine, seq, **values)
    rows = await all_rows(engine)
    prev_hash = rows[seq - 2]["hash"] if seq > 1 else GENESIS_HASH
    async with engine.begin() as connection:
        for row in rows[seq - 1 :]:
            row["prev_hash"] = prev_hash
            row["hash"] = prev_hash = values_hash(prev_hash, row)
            await connection.execute(
                update(AUDIT)
                .where(AUDIT.c.seq == row["seq"])
                .values(prev_hash=row["prev_hash"], hash=row["hash"])
            )
