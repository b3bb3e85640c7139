"""Fixtures: a fresh database per test on SQLite and PostgreSQL, a controllable clock,
and a real server on an ephemeral port.

Everything a test makes is its own, so that pytest-xdist workers can run tests side by
side (scripts/test): databases and Redis prefixes have unique names, files live under the
test's ``tmp_path``, servers listen on ephemeral ports.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from telemed.clock import ManualClock
from telemed.settings import Settings
from tests.support.databases import PostgresTemplate, SqliteTemplate, unique_name
from tests.support.janus import RunningJanus, janus_in_namespace
from tests.support.netns import NetnsLab
from tests.support.server import RunningServer, running
from tests.support.services import require_postgres

if TYPE_CHECKING:  # aiortc is loaded only by the tests that make callers
    from tests.support.callers import Caller

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
EXCLUSIVE = ("include", "skip", "only")
# Run alone too: the Janus tests' network namespace adds and removes a veth pair, and a
# Chromium running meanwhile aborts its requests (net::ERR_NETWORK_CHANGED).
EXCLUSIVE_MARKS = ("exclusive", "janus")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--exclusive",
        choices=EXCLUSIVE,
        default="include",
        help="tests marked exclusive (they need the CPU to themselves): run them with the "
        "others (include, the default), leave them out (skip) or run only them (only); "
        "scripts/test runs the others in parallel, then these alone",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    mode = config.getoption("--exclusive")
    if mode == "include":
        return
    kept: list[pytest.Item] = []
    left_out: list[pytest.Item] = []
    for item in items:
        exclusive = any(item.get_closest_marker(mark) for mark in EXCLUSIVE_MARKS)
        (kept if exclusive == (mode == "only") else left_out).append(item)
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        items[:] = kept


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> SqliteTemplate:
    return SqliteTemplate(tmp_path_factory.mktemp("sqlite-template"))


_postgres: dict[str, PostgresTemplate] = {}


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[Callable[[], PostgresTemplate]]:
    """Created on first use only, so a SQLite-only run never touches PostgreSQL."""

    def get() -> PostgresTemplate:
        if "template" not in _postgres:
            _postgres["template"] = PostgresTemplate(require_postgres())
        return _postgres["template"]

    yield get
    if "template" in _postgres:
        _postgres.pop("template").close()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    value: str = request.param
    return value


@pytest.fixture
async def database_url(
    backend: str,
    tmp_path: Path,
    sqlite_template: SqliteTemplate,
    postgres_template: Callable[[], PostgresTemplate],
) -> AsyncIterator[str]:
    """A migrated database holding the demo network, new for this test."""
    if backend == "sqlite":
        yield sqlite_template.clone(tmp_path)
        return
    template = postgres_template()
    url = await template.clone()
    try:
        yield url
    finally:
        await template.drop(url)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def make_settings(tmp_path: Path, database_url: str) -> Callable[..., Settings]:
    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "data_dir": tmp_path / "data",
            "database_url": database_url,
            "login_slowdown_seconds": 0.5,
            "log_json": False,
            # Redis pub/sub channels and keys are shared by every database number: a
            # prefix of this test's own, whichever test or worker also uses Redis.
            "redis_prefix": unique_name("test"),
            # Tests drive DeadlineService.tick on their own clock (tests/cases/test_deadlines.py).
            # Periodic jobs (reminders, deadlines) tick when a test says so.
            "scheduler_interval_seconds": 3600.0,
        }
        values.update(overrides)
        return Settings(**values)

    return make


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings()


@pytest.fixture
async def server(settings: Settings, clock: ManualClock) -> AsyncIterator[RunningServer]:
    async with running(settings, clock) as started:
        yield started


@pytest.fixture
async def empty_database_url(
    backend: str, tmp_path: Path, postgres_template: Callable[[], PostgresTemplate]
) -> AsyncIterator[str]:
    """A database with no schema at all."""
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
        return
    template = postgres_template()
    url = await template.create_empty()
    try:
        yield url
    finally:
        await template.drop(url)


@pytest.fixture
async def callers() -> AsyncIterator[list[Caller]]:
    """Call participants (aiortc peers) a test made, closed after it."""
    made: list[Caller] = []
    yield made
    for person in made:
        await person.close()


# Janus's media ports inside its namespace: a few per peer connection.
JANUS_RTP_PORTS = (20000, 20999)


@pytest.fixture(scope="session")
def netns_lab() -> Iterator[NetnsLab]:
    lab = NetnsLab()
    try:
        yield lab
    finally:
        lab.close()


@pytest.fixture(scope="session")
def janus(netns_lab: NetnsLab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningJanus]:
    """A real Janus in a network namespace, started with the configuration Telemed
    generates (the SFU tests, and the browser's call through it)."""
    folder = tmp_path_factory.mktemp("janus")
    with janus_in_namespace(netns_lab, folder, JANUS_RTP_PORTS) as running_janus:
        yield running_janus
