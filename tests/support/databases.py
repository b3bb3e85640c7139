"""Fresh databases for tests: SQLite files and PostgreSQL databases cloned from a template.

The template is migrated and seeded with the demo network once per test process (each
pytest-xdist worker has its own), so each test starts from the same known state in about a
tenth of a second. PostgreSQL database names carry the worker's name and a random part:
workers never share one, and a database left behind by a killed run says whose it was.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url

from telemed.accounts.demo import seed_demo_network
from telemed.accounts.organisations import OrganisationService
from telemed.accounts.passwords import PasswordHasher
from telemed.accounts.service import AccountService
from telemed.audit.log import AuditLog
from telemed.audit.service import local_operator
from telemed.audit.work import AuditedWork
from telemed.clock import ManualClock
from telemed.db.engine import create_engine, create_sessionmaker
from telemed.db.migrations import upgrade


async def migrate_and_seed(url: str, *, seed: bool = True) -> None:
    engine = create_engine(url)
    try:
        await upgrade(engine)
        if seed:
            sessionmaker, clock = create_sessionmaker(engine), ManualClock()
            work = AuditedWork(sessionmaker, AuditLog(clock))
            accounts = AccountService(sessionmaker, clock, PasswordHasher(), work)
            organisations = OrganisationService(sessionmaker, work)
            await seed_demo_network(accounts, organisations, local_operator("demo"))
    finally:
        await engine.dispose()


def worker_name() -> str:
    """This test process's pytest-xdist worker (``gw0``, ``gw1``...), or ``main`` alone."""
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def unique_name(kind: str) -> str:
    """A name no other worker or test uses: a database, a Redis prefix."""
    return f"{kind}_{worker_name()}_{secrets.token_hex(6)}"


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


class SqliteTemplate:
    def __init__(self, directory: Path) -> None:
        self.path = directory / "template.db"
        asyncio.run(migrate_and_seed(sqlite_url(self.path)))

    def clone(self, directory: Path) -> str:
        target = directory / "telemed.db"
        shutil.copyfile(self.path, target)
        return sqlite_url(target)


class PostgresTemplate:
    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url
        self.name = unique_name("telemed_tmpl")
        self._created = False

    async def ensure_created(self) -> None:
        if not self._created:
            await self._create_template()
            self._created = True

    def url_for(self, database: str) -> str:
        return make_url(self.admin_url).set(database=database).render_as_string(hide_password=False)

    async def _admin(self, *statements: str) -> None:
        engine = create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        try:
            async with engine.connect() as connection:
                for statement in statements:
                    await connection.execute(text(statement))
        finally:
            await engine.dispose()

    async def _create_template(self) -> None:
        await self._admin(f'CREATE DATABASE "{self.name}"')
        await migrate_and_seed(self.url_for(self.name))

    async def clone(self) -> str:
        await self.ensure_created()
        name = unique_name("telemed_t")
        await self._admin(f'CREATE DATABASE "{name}" TEMPLATE "{self.name}" STRATEGY FILE_COPY')
        return self.url_for(name)

    async def create_empty(self) -> str:
        name = unique_name("telemed_t")
        await self._admin(f'CREATE DATABASE "{name}"')
        return self.url_for(name)

    async def drop(self, url: str) -> None:
        name = make_url(url).database
        await self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def close(self) -> None:
        if self._created:
            asyncio.run(self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
