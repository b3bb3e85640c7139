"""Creating the async engine with the storage guarantees each backend needs."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from telemed.db.session import Session


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An engine for ``url``. SQLite files get WAL, ``synchronous=FULL`` and foreign keys.

    SQLite write transactions start with ``BEGIN IMMEDIATE``: a deferred transaction that
    reads first and writes later fails at once with "database is locked" when another
    writer got in between, whatever the busy timeout. Taking the write lock up front makes
    concurrent writers wait their turn instead.

    Since SQLite runs one write transaction at a time anyway, the pool holds ONE
    connection: tasks queue on the pool (woken the moment it is free) rather than in
    SQLite's busy handler, which sleeps with backoff and made requests under contention
    wait tens of milliseconds. An embedded database serves one server process.
    """
    parsed = make_url(url)
    # Statement parameters hold clinical text; keep them out of exception messages, which
    # reach the logs through log.exception.
    kwargs.setdefault("hide_parameters", True)
    if parsed.get_backend_name() != "sqlite":
        return create_async_engine(url, pool_pre_ping=True, **kwargs)

    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    options: dict[str, Any] = {"pool_size": 1, "max_overflow": 0, "pool_timeout": 60}
    options.update(kwargs)
    engine = create_async_engine(url, connect_args={"timeout": 30}, **options)

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event below own transaction control.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    # Session: statements run to their end even when the task awaiting them is cancelled.
    # Typed as its base: the services need nothing more than an AsyncSession.
    maker = async_sessionmaker(engine, class_=Session, expire_on_commit=False)
    return cast("async_sessionmaker[AsyncSession]", maker)
