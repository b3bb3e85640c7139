"""The SFU bridge's picture of one case's VideoRoom: where it lives, its secret and PIN,
and each participant's seat (feed id, publisher handle, subscription). Held by the bridge
(sfu.py) in this process only."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from telemed.signaling.janus.client import Handle, Janus, JanusSession
from telemed.signaling.state import CallPeer


@dataclass(eq=False)
class Subscription:
    handle: Handle | None = None
    feeds: set[int] = field(default_factory=set)
    # An offer sent to the browser awaits its answer: the next change waits for it.
    offering: bool = False
    # The next offer is a new handle's: the browser answers it on a new connection.
    fresh: bool = False
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
