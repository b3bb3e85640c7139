"""The lifetime of live delivery: built at start-up, background tasks, orderly shutdown.

Two steps, because the call sits between them: ``delivery`` (presence, the feed, the live
sink and the announcement channel between processes) is built before the features that
send to sockets; ``sweeping`` runs the periodic work of the room service built after them.
The application factory composes them (telemed/app.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import socketio
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from telemed.realtime.connections import Connections
from telemed.realtime.feed import CaseFeed
from telemed.realtime.presence import InProcessPresence, PresenceStore, RedisPresence
from telemed.realtime.rooms import CommittedEvents, RoomService
from telemed.realtime.server import SocketTransport
from telemed.realtime.sink import LiveSink, SeqBus
from telemed.settings import Settings

log = logging.getLogger(__name__)

PRESENCE_HEARTBEAT_SECONDS = 10
STOP_GRACE_SECONDS = 5.0


@dataclass(frozen=True)
class Delivery:
    process: str
    presence: PresenceStore
    transport: SocketTransport
    feed: CaseFeed
    sink: LiveSink


@contextlib.asynccontextmanager
async def delivery(
    settings: Settings,
    sio: socketio.AsyncServer,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> AsyncIterator[Delivery]:
    process = uuid.uuid4().hex
    redis = Redis.from_url(settings.redis_url) if settings.redis_url else None
    presence: PresenceStore = (
        RedisPresence(redis, settings.redis_prefix, process, ttl=3 * PRESENCE_HEARTBEAT_SECONDS)
        if redis is not None
        else InProcessPresence()
    )
    transport = SocketTransport(sio)
    feed = CaseFeed(transport, CommittedEvents(sessionmaker).between)
    bus = SeqBus(redis, f"{settings.redis_prefix}:case-seq", process) if redis else None
    sink = LiveSink(feed, bus)
    await presence.heartbeat()
    stop = asyncio.Event()
    heartbeat = asyncio.create_task(_every(PRESENCE_HEARTBEAT_SECONDS, presence.heartbeat, stop))
    listening = [asyncio.create_task(bus.listen(feed))] if bus is not None else []
    try:
        yield Delivery(process, presence, transport, feed, sink)
    finally:
        stop.set()
        await _stop([heartbeat], listening)
        await sink.close()
        with contextlib.suppress(Exception):
            await presence.close()
        if redis is not None:
            await redis.aclose()


@contextlib.asynccontextmanager
async def sweeping(
    settings: Settings, rooms: RoomService, connections: Connections
) -> AsyncIterator[None]:
    """The room service's periodic check of every connection and room."""
    # Stopped, not cancelled: a sweep in the middle of a database read finishes and
    # returns its connection before the engine is disposed.
    stop = asyncio.Event()
    sweep = asyncio.create_task(
        _every(settings.socket_revalidate_seconds, lambda: rooms.revalidate(connections), stop)
    )
    try:
        yield
    finally:
        stop.set()
        await _stop([sweep], [])


async def _stop(periodic: list[asyncio.Task[None]], listening: list[asyncio.Task[None]]) -> None:
    # Periodic work gets a few seconds to finish; shutdown itself is never held up for long.
    _, late = await asyncio.wait(periodic, timeout=STOP_GRACE_SECONDS)
    for task in [*late, *listening]:
        task.cancel()
    await asyncio.gather(*periodic, *listening, return_exceptions=True)


async def _every(seconds: float, work: Callable[[], Awaitable[None]], stop: asyncio.Event) -> None:
    while True:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), seconds)
        if stop.is_set():
            return
        try:
            await work()
        except Exception:
            log.exception("periodic realtime work failed")
