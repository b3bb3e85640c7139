"""Telemed's Janus client against a real Janus (in a network namespace): sessions, handles,
synchronous and asynchronous requests, keepalives, and what each failure becomes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from telemed.clock import ManualClock
from telemed.settings import Settings
from telemed.shapes import Json
from telemed.signaling.janus.client import Janus, JanusSession
from telemed.signaling.janus.errors import SfuRefused, SfuUnavailable
from telemed.signaling.janus.pool import JanusPool
from telemed.signaling.janus.transport import JanusHttp
from tests.support.janus import RunningJanus
from tests.support.server import running

pytestmark = [pytest.mark.janus, pytest.mark.xdist_group("janus")]


@pytest.fixture
def backend() -> str:
    return "sqlite"  # Janus is the subject here, not the database


@pytest.fixture
async def client(janus: RunningJanus) -> AsyncIterator[Janus]:
    made = Janus(JanusHttp(janus.url, janus.api_secret), keepalive_seconds=0.5)
    yield made
    await made.close()


async def _ignore(_event: Json) -> None:
    return None


async def test_a_session_makes_a_room_joins_it_and_destroys_it(
    janus: RunningJanus, client: Janus
) -> None:
    info = await client.info()
    assert info["janus"] == "server_info"
    assert list(info["plugins"]) == ["janus.plugin.videoroom"]  # the only plugin loaded
    assert list(info["transports"]) == ["janus.transport.http"]
    session = await client.session()
    handle = await session.attach(_ignore)
    # Without the admin key, Janus refuses to make rooms: nobody else may.
    with pytest.raises(SfuRefused) as refused:
        await handle.request({"request": "create", "room": 4242})
    assert refused.value.janus_code == 429
    assert "admin_key" in refused.value.message
    create = {"request": "create", "room": 4242, "admin_key": janus.admin_key, "secret": "s"}
    assert (await handle.request(create)).data["videoroom"] == "created"
    # An asynchronous request is answered by its event, through the long poll.
    joined = await handle.message(
        {"request": "join", "ptype": "publisher", "room": 4242, "id": 7, "display": "x"}
    )
    assert (joined.data["videoroom"], joined.data["id"], joined.jsep) == ("joined", 7, None)
    listed = await handle.request({"request": "listparticipants", "room": 4242})
    assert [p["id"] for p in listed.data["participants"]] == [7]
    # Kept alive past Janus's own keepalive interval by the keepalives (0.5 s here).
    await asyncio.sleep(1.5)
    assert not session.lost
    gone = await handle.request({"request": "destroy", "room": 4242, "secret": "s"})
    assert gone.data["videoroom"] == "destroyed"
    await session.destroy()
    with pytest.raises(SfuUnavailable):
        await session.attach(_ignore)


async def test_a_wrong_secret_is_refused_and_an_unreachable_janus_is_unavailable(
    janus: RunningJanus,
) -> None:
    wrong = Janus(JanusHttp(janus.url, "not-the-secret"))
    with pytest.raises(SfuRefused) as refused:
        await wrong.session()
    assert refused.value.janus_code == 403
    await wrong.close()
    # A port nothing listens on, on the same test host.
    away = Janus(JanusHttp(f"http://{janus.host.address}:9/janus", janus.api_secret, 2.0))
    with pytest.raises(SfuUnavailable):
        await away.session()
    await away.close()


async def test_a_session_janus_forgot_is_reported_lost(janus: RunningJanus, client: Janus) -> None:
    lost = asyncio.Event()

    async def on_lost() -> None:
        lost.set()

    session: JanusSession = await client.session(on_lost)
    handle = await session.attach(_ignore)
    await asyncio.to_thread(janus.restart)
    await asyncio.wait_for(lost.wait(), 30)
    assert session.lost
    with pytest.raises(SfuUnavailable):
        await handle.request({"request": "list"})
    await session.destroy()


async def test_the_pool_places_rooms_on_the_least_loaded_instance_that_answers(
    janus: RunningJanus,
) -> None:
    first = Janus(JanusHttp(janus.url, janus.api_secret))
    second = Janus(JanusHttp(janus.url, janus.api_secret))
    pool = JanusPool([first, second])
    assert pool.ranked() == [first, second]
    pool.placed(first, +1)
    assert pool.ranked() == [second, first]
    ok, detail = await pool.check()
    assert ok
    assert detail == {"instances": 2, "answering": 2, "rooms": {0: 1, 1: 0}}
    await pool.close()


async def test_readyz_reports_janus_when_configured(
    janus: RunningJanus, make_settings: Callable[..., Settings], clock: ManualClock
) -> None:
    settings = make_settings(
        janus_url=[janus.url], janus_api_secret=janus.api_secret, janus_admin_key="k"
    )
    async with running(settings, clock) as server:
        async with server.http().get("/readyz") as response:
            body: Any = await response.json()
        assert response.status == 200
        assert body["checks"]["janus"] == {
            "ok": True,
            "instances": 1,
            "answering": 1,
            "rooms": {"0": 0},
        }
    away = make_settings(janus_url=[f"http://{janus.host.address}:9/janus"])
    async with running(away, clock) as server:
        async with server.http().get("/readyz") as response:
            body = await response.json()
        assert response.status == 503
        assert body["checks"]["janus"]["ok"] is False
