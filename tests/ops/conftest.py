"""The production topology (tests/support/topology.py) as a fixture, on a fresh
PostgreSQL database holding the demo network."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from tests.support.databases import PostgresTemplate
from tests.support.services import require_binary, require_redis
from tests.support.topology import Topology, running_topology


@pytest.fixture
async def topology(
    tmp_path: Path, postgres_template: Callable[[], PostgresTemplate]
) -> AsyncIterator[Topology]:
    nginx = require_binary("/usr/sbin/nginx", "nginx")
    turnserver = require_binary("turnserver", "coturn")
    redis_url = require_redis()
    template = postgres_template()
    database_url = await template.clone()
    try:
        async with running_topology(
            tmp_path,
            database_url=database_url,
            redis_url=redis_url,
            nginx=nginx,
            turnserver=turnserver,
        ) as started:
            yield started
    finally:
        await template.drop(database_url)
