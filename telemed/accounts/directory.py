"""Reference data the pages offer in their forms (the councils one may ask, the
facilities a search may name).

Council and facility names and codes are public reference data, not case or account
data, so reading them is not audited.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from telemed.accounts.repository import AccountRepository
from telemed.shapes import Json


class Directory:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._sessionmaker = sessionmaker

    async def councils(self) -> list[Json]:
        async with self._sessionmaker() as db:
            rows = await AccountRepository(db).councils()
            return [{"code": c.code, "name": c.name, "seat": c.seat_facility.name} for c in rows]

    async def facilities(self) -> list[Json]:
        async with self._sessionmaker() as db:
            rows = await AccountRepository(db).facilities()
            return [{"code": f.code, "name": f.name} for f in rows]
