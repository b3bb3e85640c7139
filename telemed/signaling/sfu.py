"""The SFU bridge: calls past two participants go through Janus, signaled by Telemed.

Browsers never talk to Janus. From the third participant (``SFU_FROM``), when Janus is
configured, the call's topology becomes ``sfu``: everyone in the call hears
``call:topology`` and from then on each browser keeps two connections, both addressed over
``rtc:signal`` to virtual peers as the recorder is:

- ``sfu:publish``: the browser offers its microphone and camera; the bridge publishes them
  in the case's VideoRoom on the participant's behalf and relays Janus's answer.
- ``sfu:subscribe``: the bridge subscribes the participant to every other participant's
  feed and relays Janus's offer (with which peer each m-line carries); the browser
  answers. When someone starts or stops publishing, the bridge updates the subscription
  and the browser answers the new offer.

Each case's room lives on one Janus instance (the least loaded when it was made), with a
secret and a PIN nobody else knows, from the session's start to its end. The bridge only
ever subscribes a participant to the feeds of the call's own participants, accepts
signals only from participants in the call (the relay checks membership first), and drops
a participant's handles as soon as they leave the call, for whatever reason. A Janus that
stops answering loses its rooms: the call moves to a new room (another instance if one
answers) and every browser publishes again (a new ``epoch``).
"""

from __future__ import annotations

import asyncio
import logging
from functools import partial
from pathlib import Path

from telemed.background import Background
from telemed.errors import Conflict
from telemed.realtime.presence import PresenceStore
from telemed.realtime.rooms import RoomTransport
from telemed.shapes import Json
from telemed.signaling.janus.errors import SfuRefused, SfuUnavailable
from telemed.signaling.janus.pool import JanusPool
from telemed.signaling.sfu_room import Seat, SfuRoom, close_room, open_room, trickled
from telemed.signaling.sfu_subscriptions import Subscriptions
from telemed.signaling.state import (
    SFU,
    SFU_PUBLISH,
    Call,
    CallPeer,
    Calls,
    send_signal,
    to_triage,
)

log = logging.getLogger(__name__)

# The call moves to the SFU when this many participants are in it.
SFU_FROM = 3
# Without an SFU, the chair hears once that more video participants than this need one.
MESH_VIDEO_LIMIT = 4


class SfuBridge:
    def __init__(
        self,
        *,
        pool: JanusPool | None,
        calls: Calls,
        transport: RoomTransport,
        presence: PresenceStore,
        admin_key: str,
        recording_dir: Path | None = None,
    ) -> None:
        self._pool = pool
        self._calls = calls
        self._transport = transport
        self._presence = presence
        self._admin_key = admin_key
        # Where Janus writes recordings (a folder Janus and Telemed both see).
        self._recording_dir = recording_dir
        self._rooms: dict[int, SfuRoom] = {}
        self._making: dict[int, asyncio.Lock] = {}
        self._tasks = Background(log, "an SFU update failed")
        self._subscriptions = Subscriptions(transport, self._tasks.spawn)

    @property
    def configured(self) -> bool:
        return bool(self._pool)

    def forwarded_streams(self) -> int:
        """Feeds the SFU forwards now: each subscribed feed of each participant."""
        return sum(
            len(seat.subscription.feeds)
            for room in self._rooms.values()
            for seat in room.seats.values()
        )

    def rooms(self) -> int:
        return len(self._rooms)

    def room_id(self, case_id: int) -> int | None:
        """The case's VideoRoom on its Janus (for operators and tests)."""
        room = self._rooms.get(case_id)
        return room.room_id if room else None

    def speaker(self, case_id: int) -> str | None:
        """Whom Janus last heard speaking in the case's call (the peer id)."""
        room = self._rooms.get(case_id)
        return room.peer_of(room.speaker) if room is not None else None

    # -- the call's life (the call service tells, under the case's lock) ----------------

    async def session_started(self, case_id: int) -> None:
        """The session started: its room is made now, so that moving costs nothing."""
        if self.configured:
            try:
                await self._room(case_id)
            except (SfuUnavailable, SfuRefused) as error:
                log.warning("no SFU room for a starting session yet: %s", error.code)

    async def session_ended(self, case_id: int) -> None:
        self._making.pop(case_id, None)
        room = self._rooms.pop(case_id, None)
        if room is not None:
            await close_room(room, self._pool)

    async def placed(self, call: Call, newcomer: CallPeer) -> None:
        """``newcomer`` entered ``call``: the call's topology follows its size."""
        present = call.in_call()
        if call.topology == SFU:
            room = self._rooms.get(call.case_id)
            if room is not None:
                room.seat(newcomer)
                room.kick()
            return
        if len(present) < SFU_FROM:
            return
        if not self.configured:
            await self._warn_mesh(call)
            return
        try:
            room = await self._room(call.case_id)
        except (SfuUnavailable, SfuRefused) as error:
            log.warning("the call stays a mesh: the SFU failed (%s)", error.code)
            return
        call.topology = SFU
        for peer in present:
            room.seat(peer)
        await self._announce(call, exclude=newcomer)

    def link_changed(self, case_id: int) -> None:
        """A participant's link moved it to another layer: the room's worker applies it."""
        room = self._rooms.get(case_id)
        if room is not None:
            room.kick()

    async def left(self, case_id: int, peer_id: str) -> None:
        """A participant left the call: its handles go at once."""
        room = self._rooms.get(case_id)
        seat = room.seats.pop(peer_id, None) if room else None
        if room is not None and seat is not None:
            await seat.drop()
            room.kick()

    async def close(self) -> None:
        """At shutdown: every room is destroyed on its Janus."""
        for case_id in list(self._rooms):
            await self.session_ended(case_id)
        await self._tasks.close()

    # -- recording (sfu_recording.py) --------------------------------------------------

    async def record(self, case_id: int, files: dict[str, str]) -> None:
        """Janus records what each of these participants publishes, each under its own base
        name in the room's recording folder."""
        room = self._rooms.get(case_id)
        if room is None or self._recording_dir is None:
            raise Conflict("This call does not go through the video server.")
        handles = [(room.seats[p].publisher, base) for p, base in files.items() if p in room.seats]
        publishing = [(handle, base) for handle, base in handles if handle is not None]
        if len(publishing) != len(files):
            raise Conflict("Someone to record has not yet sent their media to the video server.")
        for handle, base in publishing:
            body = {"request": "configure", "record": True, "secret": room.secret}
            await handle.message({**body, "filename": base})

    async def stop_recording(self, case_id: int, peer_ids: list[str]) -> None:
        """Janus stops writing (the files of those who left are closed already)."""
        room = self._rooms.get(case_id)
        if room is None:
            return
        handles = [room.seats[p].publisher for p in peer_ids if p in room.seats]
        body = {"request": "configure", "record": False, "secret": room.secret}
        results = await asyncio.gather(
            *(handle.message(body) for handle in handles if handle is not None),
            return_exceptions=True,
        )
        for result in results:
            if isinstance(result, (SfuUnavailable, SfuRefused)):
                log.warning("janus did not stop a recording: %s", result.code)
            elif isinstance(result, BaseException):
                raise result

    # -- signals from a browser ---------------------------------------------------------

    async def signal(self, call: Call, sender: CallPeer, to: str, data: Json) -> Json:
        if call.topology != SFU:
            raise Conflict("This call does not go through the video server.")
        room = await self._room(call.case_id)
        seat = room.seat(sender)
        if to == SFU_PUBLISH:
            await self._publish_signal(room, seat, data)
        else:
            await self._subscriptions.signal(room, seat, data)
        return {"ok": True}

    async def _publish_signal(self, room: SfuRoom, seat: Seat, data: Json) -> None:
        if "candidate" in data:
            if seat.publisher is None:
                raise Conflict("Offer to sfu:publish before sending candidates.")
            await seat.publisher.trickle(trickled(data["candidate"]))
            return
        description = data["description"]
        if description["type"] != "offer":
            raise Conflict("sfu:publish takes offers (and candidates) only.")
        jsep = {"type": "offer", "sdp": description.get("sdp", "")}
        async with seat.lock:
            if seat.publisher is None:
                listener = partial(self._publisher_event, room, seat)
                seat.publisher = await room.session.attach(listener)
                body: Json = {
                    "request": "joinandconfigure",
                    "ptype": "publisher",
                    "room": room.room_id,
                    "pin": room.pin,
                    "id": seat.feed,
                    "display": seat.peer.peer_id,
                }
            else:
                body = {"request": "configure"}
            reply = await seat.publisher.message(body, jsep)
        if reply.jsep is None:
            raise SfuRefused(0, "no answer to the offer")
        answer = {"type": reply.jsep["type"], "sdp": reply.jsep["sdp"]}
        await send_signal(self._transport, seat.peer, SFU_PUBLISH, {"description": answer})

    async def _publisher_event(self, room: SfuRoom, seat: Seat, event: Json) -> None:
        if event.get("janus") == "hangup":
            # Its connection is gone (failed, or closed by the browser): the next offer
            # to sfu:publish joins the room afresh.
            self._tasks.spawn(self._publisher_lost(room, seat))
        data = (event.get("plugindata") or {}).get("data") or {}
        if data.get("videoroom") in ("talking", "stopped-talking"):
            if data["videoroom"] == "talking" and data.get("id") != room.speaker:
                # The district receives the speaker's high layer: the layers follow.
                room.speaker = data.get("id")
                room.kick()
        # Media up or down, a publisher appearing or leaving: subscriptions follow.
        elif event.get("janus") in ("webrtcup", "hangup", "event", "detached"):
            room.kick()

    async def _publisher_lost(self, room: SfuRoom, seat: Seat) -> None:
        async with seat.lock:
            handle, seat.publisher = seat.publisher, None
        if handle is not None:
            await handle.detach()

    # -- rooms --------------------------------------------------------------------------

    async def _room(self, case_id: int) -> SfuRoom:
        room = self._rooms.get(case_id)
        if room is not None and not room.session.lost:
            return room
        lock = self._making.setdefault(case_id, asyncio.Lock())
        async with lock:
            room = self._rooms.get(case_id)
            if room is not None and not room.session.lost:
                return room
            assert self._pool is not None, "no SFU configured"
            room = await open_room(
                self._pool,
                case_id,
                on_lost=partial(self._lost, case_id),
                admin_key=self._admin_key,
                recording_dir=self._recording_dir,
            )
            self._rooms[case_id] = room
            call = self._calls.get(case_id)
            if call is not None and call.topology == SFU:
                for peer in call.in_call():
                    room.seat(peer)
            room.worker = asyncio.ensure_future(self._subscriptions.work(room))
            return room

    async def _lost(self, case_id: int) -> None:
        """Janus forgot the room's session (it died or restarted): a new room, and every
        browser in the call publishes again."""
        room = self._rooms.pop(case_id, None)
        if room is not None:
            await close_room(room, self._pool)
        async with self._calls.lock(case_id):
            call = self._calls.get(case_id)
            if call is None or call.topology != SFU or not call.open:
                return
            try:
                await self._room(case_id)
            except (SfuUnavailable, SfuRefused) as error:
                log.warning("no SFU answers for a call that lost its room: %s", error.code)
            call.sfu_epoch += 1
            await self._announce(call)

    async def _announce(self, call: Call, exclude: CallPeer | None = None) -> None:
        notice = {"case_id": call.case_id, "topology": call.topology, "epoch": call.sfu_epoch}
        for peer in call.in_call():
            if peer is not exclude:
                await self._transport.send(peer.sid, "call:topology", notice)

    async def _warn_mesh(self, call: Call) -> None:
        video = [p for p in call.in_call() if not p.audio_only]
        if call.sfu_warned or len(video) <= MESH_VIDEO_LIMIT:
            return
        call.sfu_warned = True
        notice = {
            "case_id": call.case_id,
            "notice": "sfu_needed",
            "video_participants": len(video),
            "limit": MESH_VIDEO_LIMIT,
        }
        await to_triage(self._presence, self._transport, call.case_id, "call:notice", notice)
