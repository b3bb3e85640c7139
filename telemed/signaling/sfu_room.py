"""The SFU bridge's picture of one case's VideoRoom: where it lives, its secret and PIN,
and each participant's seat (feed id, publisher handle, subscription); and making and
destroying the room on a Janus. Held by the bridge (sfu.py) in this process only."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from telemed.shapes import Json
from telemed.signaling.janus.client import Handle, Janus, JanusSession
from telemed.signaling.janus.errors import SfuRefused, SfuUnavailable
from telemed.signaling.janus.pool import JanusPool
from telemed.signaling.state import CallPeer

# A council is five to eight, with the district site and guests: room for all of them.
MAX_PUBLISHERS = 24
# The room's cap per publisher (REMB), so that senders without transport-cc adapt too.
ROOM_BITRATE = 768_000
# Room ids are JavaScript-safe integers.
ROOM_ID_RANGE = 2**52


@dataclass(eq=False)
class Subscription:
    handle: Handle | None = None
    feeds: set[int] = field(default_factory=set)
    # An offer sent to the browser awaits its answer: the next change waits for it.
    offering: bool = False
    # The next offer is a new handle's: the browser answers it on a new connection.
    fresh: bool = False
    # Each feed's video m-line on this subscription, and the simulcast layer asked of it.
    video_mids: dict[int, str] = field(default_factory=dict)
    layers: dict[int, int] = field(default_factory=dict)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


@dataclass(eq=False)
class Seat:
    """One participant's place in the room: its feed id, its publisher handle (once it
    offered) and its subscription."""

    peer: CallPeer
    feed: int
    publisher: Handle | None = None
    subscription: Subscription = field(default_factory=Subscription)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def drop(self) -> None:
        for handle in (self.publisher, self.subscription.handle):
            if handle is not None:
                await handle.detach()
        self.publisher = self.subscription.handle = None


@dataclass(eq=False)
class SfuRoom:
    case_id: int
    janus: Janus
    session: JanusSession
    control: Handle
    room_id: int
    secret: str
    pin: str
    seats: dict[str, Seat] = field(default_factory=dict)
    next_feed: int = 1
    dirty: asyncio.Event = field(default_factory=asyncio.Event)
    # The feed Janus last heard talking (its audio level events).
    speaker: int | None = None
    worker: asyncio.Task[None] | None = None

    def seat(self, peer: CallPeer) -> Seat:
        seat = self.seats.get(peer.peer_id)
        if seat is None:
            seat = self.seats[peer.peer_id] = Seat(peer, self.next_feed)
            self.next_feed += 1
        return seat

    def peer_of(self, feed: object) -> str | None:
        return next((p for p, s in self.seats.items() if s.feed == feed), None)

    def kick(self) -> None:
        """Someone's publishing changed: subscriptions are brought up to date."""
        self.dirty.set()


async def open_room(
    pool: JanusPool,
    case_id: int,
    *,
    on_lost: Callable[[], Awaitable[None]],
    admin_key: str,
    recording_dir: Path | None,
) -> SfuRoom:
    """A new private VideoRoom for ``case_id`` on the least loaded Janus that answers."""
    failure: Exception = SfuUnavailable()
    for janus in pool.ranked():
        session: JanusSession | None = None
        try:
            session = await janus.session(on_lost=on_lost)
            control = await session.attach(_ignore)
            room_id = 1 + secrets.randbelow(ROOM_ID_RANGE - 1)
            secret, pin = secrets.token_urlsafe(18), secrets.token_urlsafe(18)
            create: Json = {
                "request": "create",
                "room": room_id,
                "description": "telemed",
                "secret": secret,
                "pin": pin,
                "is_private": True,
                "publishers": MAX_PUBLISHERS,
                "bitrate": ROOM_BITRATE,
                "fir_freq": 10,
                "audiocodec": "opus",
                "videocodec": "vp8,h264",
                "notify_joining": False,
                # Who is speaking, for the layer each district site receives.
                "audiolevel_event": True,
                "audio_active_packets": 50,
                "audio_level_average": 40,
            }
            if admin_key:
                create["admin_key"] = admin_key
            if recording_dir is not None:
                # Recording is started and stopped with the room's secret only.
                create["rec_dir"] = str(recording_dir)
                create["lock_record"] = True
            await control.request(create)
        except (SfuUnavailable, SfuRefused) as error:
            failure = error
            if session is not None:
                await session.destroy()
            continue
        pool.placed(janus, +1)
        return SfuRoom(case_id, janus, session, control, room_id, secret, pin)
    raise failure


async def close_room(room: SfuRoom, pool: JanusPool | None) -> None:
    """The room's worker stops and the room goes from its Janus (if Janus still knows it)."""
    if room.worker is not None:
        room.worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await room.worker
    if pool is not None:
        pool.placed(room.janus, -1)
    if not room.session.lost:
        with contextlib.suppress(SfuUnavailable, SfuRefused):
            await room.control.request(
                {"request": "destroy", "room": room.room_id, "secret": room.secret}
            )
    await room.session.destroy()


def trickled(candidate: Json) -> Json | None:
    """A browser's ``RTCIceCandidateInit`` as Janus takes it; ``None`` for the end."""
    if not candidate.get("candidate"):
        return None
    kept = {"candidate": candidate["candidate"]}
    for key in ("sdpMid", "sdpMLineIndex"):
        if candidate.get(key) is not None:
            kept[key] = candidate[key]
    return kept


async def _ignore(_event: Json) -> None:
    """The room's control handle publishes nothing: its events say nothing new."""
