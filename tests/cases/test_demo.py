"""`telemed demo` on a fresh database: every demo account finds cases at every stage, with
generated attachments, signed decisions and minutes; a second run adds nothing."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from telemed.accounts.demo import CASE_STAFF, USERS
from telemed.audit.models import AuditRecord
from telemed.cases.models import Attachment, Case, CaseEvent, Decision
from telemed.cli import main
from telemed.clock import ManualClock
from telemed.db.base import Base
from telemed.db.engine import create_engine, create_sessionmaker
from telemed.settings import Settings
from tests.support.api import call
from tests.support.audit import verify
from tests.support.server import running

STAGES = {"requested", "info_requested", "scheduled", "decided", "closed"}
ACCOUNTS = [username for username, *_ in [*USERS, *CASE_STAFF]]


@pytest.fixture(autouse=True)
def _keep_the_umask() -> Iterator[None]:
    """``main`` sets the process's umask, as it should for a server; tests run on after."""
    previous = os.umask(0o022)
    os.umask(previous)
    yield
    os.umask(previous)


async def _counts(url: str) -> dict[str, int]:
    engine = create_engine(url)
    try:
        async with create_sessionmaker(engine)() as db:
            counts = {}
            models: list[type[Base]] = [Case, CaseEvent, Attachment, Decision, AuditRecord]
            for model in models:
                counts[model.__name__] = int(
                    await db.scalar(select(func.count()).select_from(model)) or 0
                )
            return counts
    finally:
        await engine.dispose()


async def _what_each_account_sees(settings: Settings) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    async with running(settings, ManualClock()) as server:
        for username in ACCOUNTS:
            who = await server.sign_in(username)
            cases = (await call(who, "GET", "/api/v1/cases?limit=200"))["items"]
            seen[username] = {case["status"] for case in cases}
            if username == "bs.namcan":
                seen["modes"] = {case["mode"] for case in cases}
                decided = next(c for c in cases if c["status"] == "decided")
                board = await call(who, "GET", f"/api/v1/cases/{decided['id']}")
                seen["board"] = board
                path = f"/api/v1/cases/{decided['id']}/minutes"
                async with who.http.get(path, headers=who.bearer) as response:
                    assert response.status == 200
                    seen["minutes"] = await response.text()
                for attachment in board["attachments"]:
                    path = f"/api/v1/cases/{decided['id']}/attachments/{attachment['id']}"
                    async with who.http.get(path, headers=who.bearer) as response:
                        assert response.status == 200, attachment
    return seen


def test_a_fresh_demo_shows_every_account_cases_at_every_stage(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'demo.db'}"
    data = tmp_path / "data"
    flags = ["--database-url", url, "--data-dir", str(data)]
    assert main(["db", "upgrade", *flags]) == 0
    assert main(["demo", *flags]) == 0
    first = asyncio.run(_counts(url))
    assert first["Case"] == 11
    assert main(["demo", *flags]) == 0
    second = asyncio.run(_counts(url))
    assert {k: v for k, v in second.items() if k != "AuditRecord"} == {
        k: v for k, v in first.items() if k != "AuditRecord"
    }
    assert asyncio.run(verify(url)).ok

    settings = Settings(data_dir=data, database_url=url, log_json=False)
    seen = asyncio.run(_what_each_account_sees(settings))
    for username in ACCOUNTS:
        assert seen[username] >= STAGES, username
    assert seen["modes"] == {None, "written", "live"}
    board = seen["board"]
    kinds = {a["kind"] for a in board["attachments"]}
    assert kinds == {"image", "pdf"}
    signed = [d for d in board["decisions"] if d["status"] == "signed"]
    assert len(signed) == 1
    assert [o["stance"] for o in signed[0]["opinions"]] == ["concur"]
    assert "Biên bản hội chẩn" in seen["minutes"]
    assert signed[0]["treatment_direction"] in seen["minutes"]
