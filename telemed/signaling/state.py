"""The calls of this process: who is in each call or its lobby, and a lock per case.

Call membership is held by the process that holds the connections (see realtime.md,
"Calls and several processes"). The call service, the signal relay and the recording
control share one ``Calls``; each changes a call only under that case's lock.
"""

from __future__ import annotations

import asyncio
import weakref
from dataclasses import dataclass, field

from telemed.errors import Conflict, Forbidden
from telemed.realtime.connections import Connection, TokenBucket
from telemed.realtime.presence import PresenceStore
from telemed.realtime.rooms import RoomTransport
from telemed.shapes import Json
from telemed.signaling.links import Link

# The server's own recorder, addressed by browsers as a peer of the call.
RECORDER = "recorder"
# The SFU's two virtual peers: a browser publishes to one and subscribes through the other.
SFU_PUBLISH, SFU_SUBSCRIBE = "sfu:publish", "sfu:subscribe"
SFU_PEERS = frozenset({SFU_PUBLISH, SFU_SUBSCRIBE})
# How a call's media flows: browser to browser, or through the SFU (sfu.py).
MESH, SFU = "mesh", "sfu"
# Trickled candidates per connection: a browser gathers a few per peer connection, a
# restart a few more; a flood beyond this is refused without touching the others.
CANDIDATE_RATE, CANDIDATE_BURST = 10.0, 60
LOBBY, IN_CALL = "lobby", "in_call"
TRIAGE = frozenset({"chair", "secretary"})


@dataclass(eq=False)
class CallPeer:
    case_id: int
    connection: Connection
    role: str
    user: Json
    state: str
    audio_only: bool = False
    screen: bool = False
    consent: bool = False
    stats: Json | None = None
    link: Link = field(default_factory=Link)
    candidates: TokenBucket = field(
        default_factory=lambda: TokenBucket(CANDIDATE_RATE, CANDIDATE_BURST)
    )

    @property
    def peer_id(self) -> str:
        return self.connection.peer_id

    @property
    def sid(self) -> str:
        return self.connection.sid

    def public(self) -> Json:
        return {
            "peer_id": self.peer_id,
            "user": self.user,
            "role": self.role,
            "audio_only": self.audio_only,
            "screen": self.screen,
            "consent": self.consent,
        }


@dataclass(eq=False)
class Call:
    case_id: int
    open: bool
    peers: dict[str, CallPeer] = field(default_factory=dict)
    topology: str = MESH
    # Each move to a (new) SFU room: browsers publish again when it changes.
    sfu_epoch: int = 1
    # The chair was told, once, that the mesh is too large for video.
    sfu_warned: bool = False

    def topology_json(self) -> Json:
        return {"topology": self.topology, "epoch": self.sfu_epoch}

    def in_call(self) -> list[CallPeer]:
        return [p for p in self.peers.values() if p.state == IN_CALL]

    def waiting(self) -> list[CallPeer]:
        return [p for p in self.peers.values() if p.state == LOBBY]


class Calls:
    def __init__(self) -> None:
        self._calls: dict[int, Call] = {}
        # A case's lock lives while someone holds or awaits it, not for every case ever.
        self._locks: weakref.WeakValueDictionary[int, asyncio.Lock] = weakref.WeakValueDictionary()

    def get(self, case_id: int) -> Call | None:
        return self._calls.get(case_id)

    def open(self, case_id: int, is_open: bool) -> Call:
        """The case's call, made (with ``is_open``) if there is none yet."""
        return self._calls.setdefault(case_id, Call(case_id, is_open))

    def pop(self, case_id: int) -> Call | None:
        return self._calls.pop(case_id, None)

    def __len__(self) -> int:
        return len(self._calls)

    def lock(self, case_id: int) -> asyncio.Lock:
        lock = self._locks.get(case_id)
        if lock is None:
            lock = self._locks[case_id] = asyncio.Lock()
        return lock

    def member(self, connection: Connection, case_id: int) -> tuple[Call, CallPeer]:
        """The call and this connection's place in it; refused unless it is in the call."""
        call = self._calls.get(case_id)
        peer = call.peers.get(connection.peer_id) if call else None
        if case_id not in connection.cases or call is None or peer is None:
            raise Forbidden("Join the case room and the call first.")
        if peer.state != IN_CALL:
            raise Forbidden("You are waiting in the lobby.")
        if not call.open:
            raise Conflict("The call is not open.")
        return call, peer


async def send_signal(transport: RoomTransport, target: CallPeer, sender: str, data: Json) -> None:
    """An ``rtc:signal`` to ``target`` from peer ``sender`` (a participant or the recorder)."""
    message = {"case_id": target.case_id, "from": sender, "data": data}
    await transport.send(target.sid, "rtc:signal", message)


async def to_triage(
    presence: PresenceStore, transport: RoomTransport, case_id: int, event: str, data: Json
) -> None:
    """To the chair's and secretary's sockets in the case room (on this process)."""
    for entry in await presence.peers(case_id):
        if entry.role in TRIAGE:
            await transport.send(entry.sid, event, data)
