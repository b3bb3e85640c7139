"""Outside services the tests use (PostgreSQL, Redis, Chromium, coturn).

On a machine without one, its tests skip with the reason. With
``TELEMED_TEST_REQUIRE_SERVICES=1`` (set by .ci/run) a missing service fails the test
instead, so that CI never passes by skipping.
"""

from __future__ import annotations

import os
import shutil
import socket
from urllib.parse import urlsplit

import pytest

POSTGRES_URL = os.environ.get(
    "TELEMED_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("TELEMED_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
CHROMIUM = os.environ.get("TELEMED_TEST_CHROMIUM", "/usr/bin/chromium")


def services_required() -> bool:
    return os.environ.get("TELEMED_TEST_REQUIRE_SERVICES", "") not in ("", "0", "false")


def missing(reason: str) -> None:
    """Skip, or fail where services are required."""
    if services_required():
        pytest.fail(f"required service missing: {reason}")
    pytest.skip(reason)


def _reachable(url: str, default_port: int) -> bool:
    parts = urlsplit(url.replace("+asyncpg", ""))
    try:
        with socket.create_connection(
            (parts.hostname or "127.0.0.1", parts.port or default_port), 1
        ):
            return True
    except OSError:
        return False


def require_postgres() -> str:
    if not _reachable(POSTGRES_URL, 5432):
        missing(f"PostgreSQL is not reachable at {POSTGRES_URL}")
    return POSTGRES_URL


def require_redis() -> str:
    if not _reachable(REDIS_URL, 6379):
        missing(f"Redis is not reachable at {REDIS_URL}")
    return REDIS_URL


def require_binary(path_or_name: str, package: str) -> str:
    found = shutil.which(path_or_name)
    if found is None:
        missing(f"{path_or_name} not found (Debian package {package})")
    assert found is not None
    return found
