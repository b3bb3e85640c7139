"""The lifetime of the live rooms: built at start-up, background tasks, orderly shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web
from redis.asyncio import Redis

from telemed import appkeys
from telemed.realtime.feed import CaseFeed
from telemed.realtime.notifications import Notifier
from telemed.realtime.presence import InProcessPresence, PresenceStore, RedisPresence
from telemed.realtime.rooms import CommittedEvents, RoomService
from telemed.realtime.server import SocketTransport
from telemed.realtime.sink import LiveSink, RelaySink, SeqBus

log = logging.getLogger(__name__)

PRESENCE_HEARTBEAT_SECONDS = 10
STOP_GRACE_SECONDS = 5.0


async def live_rooms(app: web.Application) -> AsyncIterator[None]:
    """A ``cleanup_ctx``: needs the database and services, so it runs after them."""
    settings = app[appkeys.SETTINGS]
    process = uuid.uuid4().hex
    redis = Redis.from_url(settings.redis_url) if settings.redis_url else None
    presence: PresenceStore = (
        RedisPresence(redis, settings.redis_prefix, process, ttl=3 * PRESENCE_HEARTBEAT_SECONDS)
        if redis is not None
        else InProcessPresence()
    )
    transport = SocketTransport(app[appkeys.SOCKETIO])
    connections = app[appkeys.SOCKET_CONNECTIONS]
    feed = CaseFeed(transport, CommittedEvents(app[appkeys.SESSIONMAKER]).between)
    rooms = RoomService(
        work=app[appkeys.AUDITED_WORK],
        sessionmaker=app[appkeys.SESSIONMAKER],
        auth=app[appkeys.AUTH_SERVICE],
        cases=app[appkeys.CASE_SERVICE],
        feed=feed,
        presence=presence,
        transport=transport,
        process=process,
        healed=app[appkeys.METRICS].live_healed,
    )
    bus = SeqBus(redis, f"{settings.redis_prefix}:case-seq", process) if redis else None
    sink = LiveSink(feed, bus, Notifier(app[appkeys.SESSIONMAKER], transport))
    app[appkeys.ROOM_SERVICE] = rooms
    relay = app[appkeys.CASE_EVENT_SINK]
    if isinstance(relay, RelaySink):
        relay.target = sink

    await presence.heartbeat()
    # Periodic work is stopped, not cancelled: a sweep in the middle of a database read
    # finishes and returns its connection before the engine is disposed.
    stop = asyncio.Event()
    periodic = [
        asyncio.create_task(_every(PRESENCE_HEARTBEAT_SECONDS, presence.heartbeat, stop)),
        asyncio.create_task(
            _every(settings.socket_revalidate_seconds, lambda: rooms.revalidate(connections), stop)
        ),
    ]
    listening = [asyncio.create_task(bus.listen(feed))] if bus is not None else []
    try:
        yield
    finally:
        if isinstance(relay, RelaySink):
            relay.target = None
        stop.set()
        # A sweep gets a few seconds to finish; shutdown itself is never held up for long.
        _, late = await asyncio.wait(periodic, timeout=STOP_GRACE_SECONDS)
        for task in [*late, *listening]:
            task.cancel()
        await asyncio.gather(*periodic, *listening, return_exceptions=True)
        await sink.close()
        with contextlib.suppress(Exception):
            await presence.close()
        if redis is not None:
            await redis.aclose()


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
