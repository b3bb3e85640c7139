"""Reading the audit trail of a test database directly, to see what was recorded."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from telemed.audit.verify import ChainVerifier, VerifyResult
from telemed.cases.seals import SealCheck
from telemed.db.engine import create_engine, create_sessionmaker
from tests.audit.chains import Row, all_rows


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
