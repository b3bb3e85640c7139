"""What each participant of an SFU call receives: one subscription per participant to the
feeds of the others, kept up to date by one worker per room. Janus offers, the browser
answers over ``sfu:subscribe``; one offer waits for its answer before the next change."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from functools import partial
from typing import Any

from telemed.errors import Conflict, NotFound
from telemed.realtime.rooms import RoomTransport
from telemed.shapes import Json
from telemed.signaling.janus.client import Reply
from telemed.signaling.janus.errors import SfuRefused, SfuUnavailable
from telemed.signaling.links import layer
from telemed.signaling.sfu_room import Seat, SfuRoom, trickled
from telemed.signaling.state import SFU_SUBSCRIBE, send_signal

log = logging.getLogger(__name__)

Spawn = Callable[[Coroutine[Any, Any, None]], None]


class Subscriptions:
    def __init__(self, transport: RoomTransport, spawn: Spawn) -> None:
        self._transport = transport
        # Runs work outside the Janus poll that reported it (the bridge keeps the tasks).
        self._spawn = spawn

    async def signal(self, room: SfuRoom, seat: Seat, data: Json) -> None:
        """The browser's answer to its subscription's offer, or one of its candidates."""
        sub = seat.subscription
        if "candidate" in data:
            if sub.handle is None:
                raise NotFound("There is no subscription to send candidates to.")
            await sub.handle.trickle(trickled(data["candidate"]))
            return
        description = data["description"]
        async with sub.lock:
            if description["type"] != "answer" or not sub.offering or sub.handle is None:
                raise Conflict("sfu:subscribe takes the answer to its offer only.")
            jsep = {"type": "answer", "sdp": description.get("sdp", "")}
            await sub.handle.message({"request": "start"}, jsep)
            sub.offering = False
        room.kick()  # a change that waited for this answer goes now

    async def work(self, room: SfuRoom) -> None:
        """The room's worker: each time publishing changes, everyone's subscription follows."""
        while True:
            await room.dirty.wait()
            room.dirty.clear()
            try:
                await self._reconcile(room)
            except (SfuUnavailable, SfuRefused) as error:
                log.warning("updating the SFU subscriptions failed: %s", error.code)
                await asyncio.sleep(0.5)
                room.kick()

    async def _reconcile(self, room: SfuRoom) -> None:
        reply = await room.control.request({"request": "listparticipants", "room": room.room_id})
        ours = {seat.feed for seat in room.seats.values()}
        publishing = {
            int(p["id"]) for p in reply.data.get("participants", []) if p.get("publisher")
        }
        for seat in list(room.seats.values()):
            await self._resubscribe(room, seat, (publishing & ours) - {seat.feed})
            await self._layers(room, seat)

    async def _layers(self, room: SfuRoom, seat: Seat) -> None:
        """Each feed's simulcast layer as the subscriber's link and the speaker call for."""
        sub = seat.subscription
        async with sub.lock:
            if sub.offering or sub.handle is None or room.seats.get(seat.peer.peer_id) is not seat:
                return
            district = seat.peer.role == "requester"
            screens = {s.feed for s in room.seats.values() if s.peer.screen}
            wanted = {
                feed: layer(seat.peer.link.low, district, feed, room.speaker, screens)
                for feed in sub.video_mids
            }
            changed = {feed: n for feed, n in wanted.items() if sub.layers.get(feed) != n}
            if not changed:
                return
            streams = [{"mid": sub.video_mids[f], "substream": n} for f, n in changed.items()]
            await sub.handle.message({"request": "configure", "streams": streams})
            sub.layers.update(changed)

    async def _resubscribe(self, room: SfuRoom, seat: Seat, wanted: set[int]) -> None:
        sub = seat.subscription
        async with sub.lock:
            if sub.offering or room.seats.get(seat.peer.peer_id) is not seat:
                return
            if sub.handle is None:
                if not wanted:
                    return
                sub.handle = await room.session.attach(partial(self._event, room, seat))
                sub.fresh = True
                body: Json = {
                    "request": "join",
                    "ptype": "subscriber",
                    "room": room.room_id,
                    "pin": room.pin,
                    "streams": [{"feed": feed} for feed in sorted(wanted)],
                }
            elif wanted != sub.feeds:
                body = {"request": "update"}
                if wanted - sub.feeds:
                    body["subscribe"] = [{"feed": f} for f in sorted(wanted - sub.feeds)]
                if sub.feeds - wanted:
                    body["unsubscribe"] = [{"feed": f} for f in sorted(sub.feeds - wanted)]
            else:
                return
            await self._offer(room, seat, await sub.handle.message(body))

    async def _offer(self, room: SfuRoom, seat: Seat, reply: Reply) -> None:
        """Janus described the subscription (and maybe offered it): the browser hears the
        offer with the peer each m-line carries. Under the subscription's lock."""
        sub = seat.subscription
        streams = reply.data.get("streams")
        live = [s for s in streams or [] if s.get("feed_id") is not None and s.get("active", True)]
        if streams is not None:
            sub.feeds = {int(s["feed_id"]) for s in live}
            mids = {int(s["feed_id"]): s["mid"] for s in live if s.get("type") == "video"}
            # A new or renumbered m-line starts at Janus's default layer: ask again.
            kept = sub.layers.items()
            sub.layers = {f: n for f, n in kept if sub.video_mids.get(f) == mids.get(f)}
            sub.video_mids = mids
        if reply.jsep is None or reply.jsep.get("type") != "offer":
            return
        sub.offering = True
        mapping = [
            {"mid": s["mid"], "kind": s.get("type"), "peer_id": room.peer_of(s["feed_id"])}
            for s in live
        ]
        offer = {"type": "offer", "sdp": reply.jsep["sdp"]}
        data = {"description": offer, "streams": mapping, "new_connection": sub.fresh}
        sub.fresh = False
        await send_signal(self._transport, seat.peer, SFU_SUBSCRIBE, data)

    async def _event(self, room: SfuRoom, seat: Seat, event: Json) -> None:
        if event.get("janus") == "hangup":
            # The browser's receiving connection is gone: a new handle, a new offer.
            self._spawn(self._lost(room, seat))
            return
        if event.get("jsep") is None:
            return
        # An offer Janus makes on its own (a publisher left, a postponed update). Not in
        # the poll's own task: the lock may be held by a request that awaits this poll.
        data = (event.get("plugindata") or {}).get("data") or {}
        self._spawn(self._unsolicited(room, seat, Reply(data, event["jsep"])))

    async def _lost(self, room: SfuRoom, seat: Seat) -> None:
        sub = seat.subscription
        async with sub.lock:
            handle, sub.handle = sub.handle, None
            sub.feeds, sub.offering = set(), False
            sub.video_mids, sub.layers = {}, {}
        if handle is not None:
            await handle.detach()
        room.kick()

    async def _unsolicited(self, room: SfuRoom, seat: Seat, reply: Reply) -> None:
        async with seat.subscription.lock:
            if room.seats.get(seat.peer.peer_id) is seat:
                await self._offer(room, seat, reply)
