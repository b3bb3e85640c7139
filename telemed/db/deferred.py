"""Rows a transaction writes at its end: one INSERT per table for a whole batch.

The case log's events and the audit trail's rows are appended by every change; under
group commit (telemed/db/batches.py) a transaction holds up to hundreds of changes, and
each row was a statement of its own, with its round trips to the driver. Rows handed to
``defer`` instead wait in the transaction and go to the database together, one
executemany per table, in the order they were deferred:

- before the transaction commits (``before_commit``), so they commit with it;
- before any statement of the transaction reads one of their tables (or is raw SQL),
  so every read sees every row written before it, as if each had been written at once;
- never, when the savepoint they were deferred in rolls back (``savepoint`` keeps the
  place to go back to: rows written to the database since then are rolled back by the
  savepoint itself, and are deferred again).

Only rows the application builds completely itself belong here (their seqs taken under
the case's and the chain's locks, their references to rows that exist): a deferred row
the database refuses fails the whole batch at its commit instead of its own unit.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ClauseElement, Table, TextClause, event, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import ORMExecuteState, SessionTransaction
from sqlalchemy.orm import Session as SyncSession
from sqlalchemy.sql.util import find_tables

_KEY = "telemed.deferred"


@dataclass
class _Rows:
    rows: list[tuple[Table, dict[str, Any]]] = field(default_factory=list)
    written: int = 0  # rows[:written] are in the database (in this transaction)
    # What the writers of deferred rows keep between them (the audit chain's end).
    values: dict[str, Any] = field(default_factory=dict)

    @property
    def pending(self) -> list[tuple[Table, dict[str, Any]]]:
        return self.rows[self.written :]

    def write(self, session: SyncSession) -> None:
        pending = self.pending
        if not pending:
            return
        by_table: dict[Table, list[dict[str, Any]]] = {}
        for table, values in pending:
            by_table.setdefault(table, []).append(values)
        for table, rows in by_table.items():
            session.execute(insert(table), rows)
        # Only now: rows an INSERT failed on stay pending, so the commit tries them again
        # and fails the batch, rather than committing without them.
        self.written = len(self.rows)


class DeferringSession(SyncSession):
    """The synchronous session under Telemed's ``AsyncSession``: it writes deferred rows."""


def _rows(session: SyncSession) -> _Rows:
    rows = session.info.get(_KEY)
    if rows is None:
        rows = session.info[_KEY] = _Rows()
    return rows


def defer(db: AsyncSession, table: Table, values: dict[str, Any]) -> None:
    """Insert ``values`` into ``table`` in ``db``'s transaction, when it next needs to be."""
    _rows(db.sync_session).rows.append((table, values))


def kept(db: AsyncSession) -> dict[str, Any]:
    """Values that live as long as ``db``'s transaction and go back with its savepoints,
    as its deferred rows do (a writer of deferred rows keeps what the rows imply here)."""
    return _rows(db.sync_session).values


@asynccontextmanager
async def savepoint(db: AsyncSession) -> AsyncIterator[None]:
    """``db.begin_nested()``, and its rollback also takes back the rows deferred in it
    and the values ``kept`` since."""
    rows = _rows(db.sync_session)
    place, written, values = len(rows.rows), rows.written, dict(rows.values)
    try:
        async with db.begin_nested():
            yield
    except BaseException:
        del rows.rows[place:]
        rows.written, rows.values = written, values
        raise


def _reads_deferred(state: ORMExecuteState, pending: list[tuple[Table, dict[str, Any]]]) -> bool:
    statement = state.statement
    if isinstance(statement, TextClause):
        return True  # raw SQL: whatever it reads, it sees everything
    if not state.is_select:
        return False  # the deferred tables are only ever appended to
    if not isinstance(statement, ClauseElement):
        return True
    names = {table.name for table in find_tables(statement, include_joins=True)}
    return any(table.name in names for table, _values in pending)


@event.listens_for(DeferringSession, "do_orm_execute")
def _before_reading(state: ORMExecuteState) -> None:
    rows = state.session.info.get(_KEY)
    if rows is not None and rows.pending and _reads_deferred(state, rows.pending):
        rows.write(state.session)


@event.listens_for(DeferringSession, "before_commit")
def _before_commit(session: SyncSession) -> None:
    # Told of every savepoint's release too: only the transaction's own commit writes.
    if session.in_nested_transaction():
        return
    rows = session.info.get(_KEY)
    if rows is not None and rows.pending:
        session.flush()  # the ORM's own rows first: deferred rows may refer to them
        rows.write(session)


@event.listens_for(DeferringSession, "after_transaction_end")
def _after_transaction(session: SyncSession, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # the transaction itself, not a savepoint in it
        session.info.pop(_KEY, None)
