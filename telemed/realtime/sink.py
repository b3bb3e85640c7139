"""From a commit to every process: "case X reached seq N".

The writing process hands its committed events to the local feed and tells the other
processes only the new seq, on a Redis channel of Telemed's own. Each process reads what
its sockets miss from the log: payloads never cross processes, so a lost or reordered
announcement can delay an event (until the next one or the periodic sweep) but never
deliver it out of order or twice.
"""

from __future__ import annotations

import asyncio
import json
import logging

from redis.asyncio import Redis

from telemed.background import Background
from telemed.realtime.feed import CaseFeed
from telemed.shapes import Json

log = logging.getLogger(__name__)


class SeqBus:
    """Announcements between processes over Redis pub/sub."""

    def __init__(self, redis: Redis, channel: str, process: str) -> None:
        self._redis = redis
        self._channel = channel
        self._process = process

    async def publish(self, case_id: int, seq: int) -> None:
        message = json.dumps({"case_id": case_id, "seq": seq, "process": self._process})
        await self._redis.publish(self._channel, message)

    async def listen(self, feed: CaseFeed) -> None:
        """Forward other processes' announcements to the feed until cancelled."""
        while True:
            try:
                async with self._redis.pubsub() as pubsub:
                    await pubsub.subscribe(self._channel)
                    async for message in pubsub.listen():
                        if message.get("type") != "message":
                            continue
                        body = json.loads(message["data"])
                        if body.get("process") == self._process:
                            continue
                        await feed.announce(int(body["case_id"]), int(body["seq"]))
            except asyncio.CancelledError:
                raise
            except Exception:
                # The sweep re-announces every joined case, so nothing stays missed while
                # Redis is away; retry the subscription without spinning.
                log.exception("case announcement channel failed; resubscribing")
                await asyncio.sleep(1.0)


class LiveSink:
    """Live delivery of committed case events: a listener of the case log."""

    def __init__(self, feed: CaseFeed, bus: SeqBus | None) -> None:
        self._feed = feed
        self._bus = bus
        self._tasks = Background(log, "live delivery failed")

    async def committed(self, events: list[Json]) -> None:
        self._feed.remember(events)
        reached: dict[int, int] = {}
        for event in events:
            reached[event["case_id"]] = max(reached.get(event["case_id"], 0), event["seq"])
        for case_id, seq in reached.items():
            if self._bus is not None:
                try:
                    await self._bus.publish(case_id, seq)
                except Exception:
                    log.exception("could not announce case %s seq %s", case_id, seq)
            # Delivery runs beside the request: its answer waits for the commit only, not
            # for every socket of the room.
            self._tasks.spawn(self._feed.announce(case_id, seq))

    async def close(self) -> None:
        await self._tasks.close()
