"""Sessions whose statements, once sent, run to their end.

A task cancelled while it awaits a statement (a shutdown's grace running out, a timeout
around a check) would otherwise interrupt SQLAlchemy mid-statement: SQLAlchemy then
takes the connection for lost and invalidates it, and with it the whole transaction.
Under group commit (telemed/db/batches.py) that transaction holds the work of other
requests too, which would fail with it. Here every call that talks to the database runs
in a task of its own; a cancellation received meanwhile waits for it, then goes on as
usual (so the unit rolls back to its savepoint and its neighbours keep their work).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, AsyncSessionTransaction

from telemed.db.deferred import DeferringSession

T = TypeVar("T")


async def to_completion(step: Awaitable[T]) -> T:
    """``step``'s result; a cancellation of the caller is raised only once it is done."""
    task = asyncio.ensure_future(step)
    cancelled: asyncio.CancelledError | None = None
    while not task.done():
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError as error:
            cancelled = error
    if cancelled is not None and not task.cancelled():
        task.exception()  # retrieved: the cancellation is what the caller hears of
        raise cancelled
    return task.result()


class Transaction(AsyncSessionTransaction):
    async def start(self, is_ctxmanager: bool = False) -> Transaction:
        await to_completion(super().start(is_ctxmanager))
        return self

    async def __aexit__(self, type_: Any, value: Any, traceback: Any) -> None:
        await to_completion(super().__aexit__(type_, value, traceback))

    async def commit(self) -> None:
        await to_completion(super().commit())

    async def rollback(self) -> None:
        await to_completion(super().rollback())


class Session(AsyncSession):
    """An ``AsyncSession`` whose database calls are not abandoned halfway (and which writes
    the rows deferred in it: telemed/db/deferred.py)."""

    sync_session_class = DeferringSession

    def begin(self) -> Transaction:
        return Transaction(self)

    def begin_nested(self) -> Transaction:
        return Transaction(self, nested=True)

    async def execute(self, *args: Any, **kwargs: Any) -> Any:
        return await to_completion(super().execute(*args, **kwargs))

    async def scalar(self, *args: Any, **kwargs: Any) -> Any:
        return await to_completion(super().scalar(*args, **kwargs))

    async def get(self, *args: Any, **kwargs: Any) -> Any:
        return await to_completion(super().get(*args, **kwargs))

    async def flush(self, *args: Any, **kwargs: Any) -> None:
        await to_completion(super().flush(*args, **kwargs))

    async def refresh(self, *args: Any, **kwargs: Any) -> None:
        await to_completion(super().refresh(*args, **kwargs))

    async def delete(self, instance: object) -> None:
        await to_completion(super().delete(instance))

    async def merge(self, *args: Any, **kwargs: Any) -> Any:
        return await to_completion(super().merge(*args, **kwargs))

    async def run_sync(self, *args: Any, **kwargs: Any) -> Any:
        return await to_completion(super().run_sync(*args, **kwargs))

    async def commit(self) -> None:
        await to_completion(super().commit())

    async def rollback(self) -> None:
        await to_completion(super().rollback())
