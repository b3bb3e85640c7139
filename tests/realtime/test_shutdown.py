"""Shutting down with a client event still being handled: its database connection goes back
before the engine is disposed of, never into a pool nobody closes any more."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from telemed import appkeys
from telemed.realtime import wire
from tests.support.server import RunningServer


async def test_shutdown_ends_a_handler_holding_a_connection_before_the_engine_goes(
    server: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The grace given to handlers, shortened: this one never finishes by itself.
    monkeypatch.setattr(wire, "HANDLER_GRACE_SECONDS", 0.2)
    sio, sessionmaker = server.app[appkeys.SOCKETIO], server.app[appkeys.SESSIONMAKER]
    pool = server.app[appkeys.ENGINE].pool
    holding, never = asyncio.Event(), asyncio.Event()
    ended: list[str] = []

    async def hold(sid: str, data: object) -> None:
        try:
            async with sessionmaker() as db:
                await db.execute(text("SELECT 1"))
                holding.set()
                await never.wait()
        finally:
            ended.append("session closed")

    sio.on("test:hold", hold, namespace="/")
    signed = await server.sign_in("bs.namcan")
    client = server.socket()
    await client.connect(
        server.url, transports=["websocket"], wait_timeout=5, auth={"token": signed.token}
    )
    await client.emit("test:hold", {})
    await asyncio.wait_for(holding.wait(), 10)
    assert pool.checkedout() == 1  # type: ignore[attr-defined]

    await server.close()

    assert ended == ["session closed"]
    assert pool.checkedout() == 0  # type: ignore[attr-defined]
