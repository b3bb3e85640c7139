"""Readiness for load balancers, and the figures operators watch in /metrics."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import text

from telemed import appkeys
from telemed.clock import ManualClock
from telemed.settings import Settings
from tests.support.server import RunningServer, running
from tests.support.services import require_redis


@pytest.fixture
async def with_redis(
    make_settings: Callable[..., Settings], clock: ManualClock
) -> AsyncIterator[RunningServer]:
    async with running(make_settings(redis_url=require_redis()), clock) as server:
        yield server


async def readyz(server: RunningServer) -> tuple[int, Any]:
    async with server.http().get("/readyz") as response:
        return response.status, await response.json()


async def test_readyz_checks_the_database_and_the_disk(server: RunningServer) -> None:
    status, body = await readyz(server)
    assert status == 200
    assert body["status"] == "ready"
    assert body["checks"]["database"] == {"ok": True}
    assert body["checks"]["disk"]["ok"] is True
    assert body["checks"]["disk"]["free_bytes"] >= body["checks"]["disk"]["required_bytes"]
    assert "redis" not in body["checks"]


@pytest.mark.redis
async def test_readyz_checks_redis_when_configured(with_redis: RunningServer) -> None:
    status, body = await readyz(with_redis)
    assert status == 200
    assert body["checks"]["redis"] == {"ok": True}


# The embedded database's single connection is what makes the check wait here.
@pytest.mark.parametrize("backend", ["sqlite"])
async def test_a_late_database_check_answers_unavailable_and_is_not_cut_off(
    server: RunningServer,
) -> None:
    """The embedded database has one connection: while a transaction holds it, the check
    waits. The probe answers within its bound; the check goes on and ends by itself (cut
    off halfway, its connection would be lost), and the next probe finds the database."""
    sessionmaker = server.app[appkeys.SESSIONMAKER]
    readiness = server.app[appkeys.READINESS]
    async with sessionmaker() as db, db.begin():
        await db.execute(text("SELECT 1"))  # the one connection is taken now
        status, body = await readyz(server)
        assert status == 503
        assert body["checks"]["database"] == {"ok": False, "error": "no answer within 2 s"}
        assert body["checks"]["disk"]["ok"] is True
        assert "database" in readiness.running  # still waiting, not cancelled
    for _ in range(50):
        status, body = await readyz(server)
        if status == 200:
            break
    assert body["checks"]["database"] == {"ok": True}
    assert "database" not in readiness.running


async def test_a_full_disk_makes_the_process_unavailable_but_alive(
    make_settings: Callable[..., Settings], clock: ManualClock
) -> None:
    async with running(make_settings(ready_min_free_bytes=2**62), clock) as server:
        status, body = await readyz(server)
        assert status == 503
        assert body["status"] == "unavailable"
        assert body["checks"]["disk"]["ok"] is False
        assert body["checks"]["database"] == {"ok": True}
        async with server.http().get("/healthz") as response:
            assert response.status == 200


async def test_metrics_show_loop_lag_audit_head_and_open_calls(server: RunningServer) -> None:
    await server.sign_in("gs.chutoa")  # an audit row: the chain has a head

    async def sample() -> str:
        async with server.http().get("/metrics") as response:
            return await response.text()

    text = await sample()
    assert re.search(r"^telemed_event_loop_lag_seconds \d", text, re.MULTILINE)
    assert "telemed_event_loop_lag_histogram_seconds_bucket" in text
    assert "telemed_open_calls 0.0" in text
    head = re.search(r"^telemed_audit_chain_head (\S+)$", text, re.MULTILINE)
    assert head is not None
    assert float(head.group(1)) > 0  # the demo network was created through audited work


async def test_metrics_count_failed_sign_ins_by_reason(
    make_settings: Callable[..., Settings], clock: ManualClock
) -> None:
    settings = make_settings(login_slowdown_seconds=0, login_max_failures_per_account=2)
    async with running(settings, clock) as server:
        http = server.http()

        async def failures() -> dict[str, float]:
            async with http.get("/metrics") as response:
                text = await response.text()
            found = re.findall(
                r'^telemed_sign_in_failures_total\{reason="(\w+)"\} (\S+)$', text, re.M
            )
            return {reason: float(value) for reason, value in found}

        assert await failures() == {"invalid_credentials": 0, "throttled": 0}
        attempt = {"username": "gs.chutoa", "password": "not the password"}
        statuses = []
        for _ in range(3):
            async with http.post("/api/v1/auth/login", json=attempt) as response:
                statuses.append(response.status)
        await server.sign_in("ts.thuky")  # a sign-in that works counts nothing
        assert statuses == [401, 401, 429]
        assert await failures() == {"invalid_credentials": 2, "throttled": 1}


ROOT = Path(__file__).resolve().parents[2]


def metric_names(text: str) -> set[str]:
    return set(re.findall(r"\btelemed_[a-z_]+", text))


async def test_the_shipped_alerts_and_dashboard_name_only_metrics_the_server_exports(
    server: RunningServer,
) -> None:
    rules = yaml.safe_load((ROOT / "deploy/prometheus/telemed-alerts.yml").read_text())
    expressions = [r["expr"] for g in rules["groups"] for r in g["rules"]]
    dashboard = json.loads((ROOT / "deploy/grafana/telemed-dashboard.json").read_text())
    expressions += [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    named = set().union(*(metric_names(e) for e in expressions))
    http = server.http()
    async with http.get("/healthz"):
        pass  # a request observed: the latency histogram has its buckets
    async with http.get("/metrics") as response:
        exported = metric_names(await response.text())
    assert named, "the files name Telemed's metrics"
    assert sorted(named - exported) == []
