"""The video call of a case room: lobby, admission, relaying WebRTC signals, audio-only
switches, connection figures for the chair, and the call's end with the session.

The call is open exactly while the case is ``in_session``: starting the session (over
HTTP or ``call:start``) opens it and admits the lobby, signing the decision (or cancelling)
ends it. Both are learned from committed case events (``on_events``, fed by the live
sink), so the HTTP path and the socket path behave the same. Browsers connect to each
other directly (a mesh); the server only relays their descriptions and candidates, which
are not audited one by one (there are hundreds per call): joining and leaving the call
are case events and audited, as are consent and recording.

Call membership is held by the process that holds the connections (see realtime.md,
"Calls and several processes").
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from telemed.accounts.principal import Actor, Principal
from telemed.audit.work import AuditedWork
from telemed.cases import access
from telemed.cases.board import iso
from telemed.cases.events import CaseEventSink, principal_actor
from telemed.cases.models import Case, CaseStatus
from telemed.cases.repository import CaseRepository
from telemed.cases.schemas import TransitionInput
from telemed.cases.service import CaseService
from telemed.clock import Clock
from telemed.errors import (
    Conflict,
    DomainError,
    Forbidden,
    NotFound,
)
from telemed.realtime.call_schemas import (
    AdmitInput,
    CaseOnly,
    JoinCallInput,
    ModeInput,
    SignalInput,
    StatsInput,
)
from telemed.realtime.connections import Connection, TokenBucket
from telemed.realtime.rooms import RoomService, case_role, case_room
from telemed.signaling.service import SignalingService

log = logging.getLogger(__name__)

Json = dict[str, Any]
EventFor = Callable[[Case], tuple[str, Json] | None]

RECORDER = "recorder"
# Trickled candidates per connection: a browser gathers a few per peer connection, a
# restart a few more; a flood beyond this is refused without touching the others.
CANDIDATE_RATE, CANDIDATE_BURST = 10.0, 60
ENDING = frozenset({CaseStatus.DECIDED.value, CaseStatus.CANCELLED.value, CaseStatus.CLOSED.value})
LOBBY, IN_CALL = "lobby", "in_call"
TRIAGE = frozenset({"chair", "secretary"})


class SignalRateLimited(DomainError):
    code = "rate_limited"
    default_message = "Too many candidates; slow down."


class CallTransport(Protocol):
    async def send(self, sid: str, event: str, data: Json) -> None: ...

    async def broadcast(
        self, room: str, event: str, data: Json, skip_sid: str | None = None
    ) -> None: ...


@dataclass(eq=False)
class CallPeer:
    case_id: int
    connection: Connection
    role: str
    user: Json
    state: str
    audio_only: bool = False
    consent: bool = False
    stats: Json | None = None
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
            "consent": self.consent,
        }


@dataclass(eq=False)
class Call:
    case_id: int
    open: bool
    peers: dict[str, CallPeer] = field(default_factory=dict)

    def in_call(self) -> list[CallPeer]:
        return [p for p in self.peers.values() if p.state == IN_CALL]

    def waiting(self) -> list[CallPeer]:
        return [p for p in self.peers.values() if p.state == LOBBY]


def event_actor(principal: Principal) -> int | None:
    """Guests have no account: their events name them in ``data`` instead."""
    return None if principal.is_guest else principal.user_id


class CallService:
    def __init__(
        self,
        *,
        work: AuditedWork,
        clock: Clock,
        sink: CaseEventSink,
        rooms: RoomService,
        cases: CaseService,
        transport: CallTransport,
        signaling: SignalingService,
    ) -> None:
        self._work = work
        self._clock = clock
        self._sink = sink
        self.rooms = rooms
        self._cases = cases
        self._transport = transport
        self.signaling = signaling
        self._calls: dict[int, Call] = {}
        # A case's lock lives while someone holds or awaits it, not for every case ever.
        self._locks: weakref.WeakValueDictionary[int, asyncio.Lock] = weakref.WeakValueDictionary()
        # Set by the recording control: ends a recording with the call, takes the signals
        # addressed to the server's recorder peer.
        self.on_end: list[Callable[[int, str], Awaitable[None]]] = []
        self.to_recorder: Callable[[Call, CallPeer, Json], Awaitable[Json]] | None = None

    # -- lookups used by the recording control ------------------------------------------

    def call(self, case_id: int) -> Call | None:
        return self._calls.get(case_id)

    def open_calls(self) -> int:
        return len(self._calls)

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

    def lock(self, case_id: int) -> asyncio.Lock:
        lock = self._locks.get(case_id)
        if lock is None:
            lock = self._locks[case_id] = asyncio.Lock()
        return lock

    async def record(
        self,
        actor: Actor,
        action: str,
        case_id: int,
        event: EventFor | None = None,
        *,
        object_id: str | None = None,
        check: Callable[[Case], None] | None = None,
    ) -> Case:
        """One audited unit on the case, with at most one case event (decided by ``event``
        from the locked case row); the event is published after the commit."""
        events: list[Json] = []
        async with self._work(actor, action, case_id=case_id, object_id=object_id) as unit:
            repo = CaseRepository(unit.db)
            case = access.require_board(actor.user, await repo.get(case_id, for_update=True))
            if check is not None:
                check(case)
            chosen = event(case) if event is not None else None
            if chosen is not None:
                events.append(await self.append(repo, case, actor.user, *chosen))
        await self._sink.publish(events)
        return case

    async def append(
        self, repo: CaseRepository, case: Case, principal: Principal, type_: str, data: Json
    ) -> Json:
        """Append a call event in the current unit; its JSON as the room receives it."""
        if principal.is_guest:
            data = {**data, "guest": principal_actor(principal)}
        stored = await repo.append_event(
            case, type_, event_actor(principal), self._clock.now(), data
        )
        return {
            "case_id": case.id,
            "seq": stored.seq,
            "type": type_,
            "actor": None if principal.is_guest else principal_actor(principal),
            "at": iso(stored.at),
            "data": data,
        }

    async def publish(self, events: list[Json]) -> None:
        await self._sink.publish(events)

    # -- client messages ----------------------------------------------------------------

    def ice_servers(self, connection: Connection) -> Json:
        return {"ok": True, "iceServers": self.signaling.ice_servers(connection.principal)}

    async def join(self, connection: Connection, request_id: str, join: JoinCallInput) -> Json:
        principal = await self.rooms.authenticate(connection)
        case_id = join.case_id
        async with self.lock(case_id):
            call = self._calls.get(case_id)
            stale = call.peers.get(join.replaces) if call and join.replaces else None
            # Only one's own earlier place: the same user, another (dropped) connection.
            if (
                call is not None
                and stale is not None
                and stale.connection is not connection
                and stale.connection.principal.user_id == principal.user_id
            ):
                await self._remove(call, stale, request_id, "replaced")
                call = self._calls.get(case_id)
            peer = call.peers.get(connection.peer_id) if call else None
            if call is None or peer is None:

                def entering(case: Case) -> tuple[str, Json] | None:
                    # Guests wait to be admitted even while the call runs.
                    if case.status is CaseStatus.IN_SESSION and not principal.is_guest:
                        return ("call.join", {"peer_id": connection.peer_id})
                    return None

                def in_room(_case: Case) -> None:
                    # Inside the audited unit, so that a refusal leaves its row too.
                    if case_id not in connection.cases:
                        raise Forbidden("Join the case room (case:join) first.")

                actor = connection.actor(request_id)
                case = await self.record(
                    actor,
                    "call.join",
                    case_id,
                    entering,
                    object_id=connection.peer_id,
                    check=in_room,
                )
                call = self._calls.setdefault(case_id, Call(case_id, False))
                call.open = case.status is CaseStatus.IN_SESSION
                state = IN_CALL if entering(case) is not None else LOBBY
                role = case_role(principal, case)
                peer = CallPeer(case_id, connection, role, principal_actor(principal), state)
                call.peers[connection.peer_id] = peer
                if state == IN_CALL:
                    await self._announce_joined(call, peer)
                else:
                    await self._lobby_changed(call)
            # Who is in the call is for those in it; the lobby learns it on admission.
            inside = peer.state == IN_CALL
            others = [p.public() for p in call.in_call() if p is not peer] if inside else []
            return {
                "ok": True,
                "peer_id": peer.peer_id,
                "state": peer.state,
                "peers_in_call": others,
            }

    async def admit(self, connection: Connection, request_id: str, admit: AdmitInput) -> Json:
        await self.rooms.authenticate(connection)
        case_id = admit.case_id
        async with self.lock(case_id):
            call = self._calls.get(case_id)

            def may_admit(case: Case) -> None:
                access.require_triage(connection.principal, case)
                if case.status is not CaseStatus.IN_SESSION or call is None:
                    raise Conflict("The call has not started.", status=case.status.value)
                waiting = call.peers.get(admit.peer_id)
                if waiting is None or waiting.state != LOBBY:
                    raise NotFound("No one by that id is waiting in the lobby.")

            await self.record(
                connection.actor(request_id),
                "call.admit",
                case_id,
                object_id=admit.peer_id,
                check=may_admit,
            )
            assert call is not None
            await self._enter(call, call.peers[admit.peer_id], request_id)
        return {"ok": True}

    async def start(self, connection: Connection, request_id: str, start: CaseOnly) -> Json:
        """Start the session (the chair or secretary): the call opens when it commits."""
        await self.rooms.authenticate(connection)
        await self._cases.transition(
            connection.actor(request_id), start.case_id, TransitionInput(action="start_session")
        )
        return {"ok": True}

    async def leave(self, connection: Connection, request_id: str, leave: CaseOnly) -> Json:
        await self.left(connection, leave.case_id, request_id)
        return {"ok": True}

    async def left(self, connection: Connection, case_id: int, request_id: str) -> None:
        """The connection leaves the call (also when it leaves the room or drops)."""
        async with self.lock(case_id):
            call = self._calls.get(case_id)
            peer = call.peers.get(connection.peer_id) if call else None
            if call is not None and peer is not None:
                await self._remove(call, peer, request_id, "left")

    async def _remove(self, call: Call, peer: CallPeer, request_id: str, reason: str) -> None:
        """``peer`` is no longer in ``call`` (under the case's lock)."""
        call.peers.pop(peer.peer_id, None)
        if not call.peers:
            self._calls.pop(call.case_id, None)
        await self._record_leave(peer, request_id, reason)
        await self._announce_left(call, peer)

    async def signal(self, connection: Connection, request_id: str, signal: SignalInput) -> Json:
        call, sender = self.member(connection, signal.case_id)
        if signal.kind == "candidate" and not sender.candidates.take():
            raise SignalRateLimited()
        if signal.to == RECORDER:
            if self.to_recorder is None:
                raise NotFound("The recorder is not in this call.")
            return await self.to_recorder(call, sender, signal.data.relayed())
        target = call.peers.get(signal.to)
        if target is None or target.state != IN_CALL or target is sender:
            raise NotFound("No such peer in this call.")
        await self.deliver(target, sender.peer_id, signal.data.relayed())
        return {"ok": True}

    async def deliver(self, target: CallPeer, sender: str, data: Json) -> None:
        message = {"case_id": target.case_id, "from": sender, "data": data}
        await self._transport.send(target.sid, "rtc:signal", message)

    async def mode(self, connection: Connection, request_id: str, mode: ModeInput) -> Json:
        call, peer = self.member(connection, mode.case_id)
        peer.audio_only = mode.audio_only
        notice = {"case_id": call.case_id, "peer_id": peer.peer_id, "audio_only": mode.audio_only}
        for other in call.in_call():
            if other is not peer:
                await self._transport.send(other.sid, "call:mode", notice)
        return {"ok": True}

    async def stats(self, connection: Connection, request_id: str, stats: StatsInput) -> Json:
        call, peer = self.member(connection, stats.case_id)
        figures = stats.model_dump(exclude={"case_id"})
        peer.stats = {**figures, "at": iso(self._clock.now())}
        report = {
            p.peer_id: {"user": p.user, "audio_only": p.audio_only, **(p.stats or {})}
            for p in call.in_call()
            if p.stats is not None
        }
        await self.to_triage(call.case_id, "call:stats", {"case_id": call.case_id, "peers": report})
        return {"ok": True}

    # -- the session starting and ending (committed case events) ------------------------

    async def on_events(self, events: list[Json]) -> None:
        for event in events:
            case_id, kind, data = event["case_id"], event["type"], event.get("data") or {}
            if kind == "case.session_started":
                await self._open(case_id)
            elif kind.startswith("case.") and data.get("to") in ENDING:
                await self.end(case_id, f"case {data['to']}")

    async def _open(self, case_id: int) -> None:
        request_id = f"call-{secrets.token_hex(4)}"
        async with self.lock(case_id):
            call = self._calls.setdefault(case_id, Call(case_id, True))
            call.open = True
            # Guests always wait for the chair to admit them; everyone else enters now.
            for peer in [p for p in call.waiting() if not p.connection.principal.is_guest]:
                try:
                    await self._enter(call, peer, request_id)
                except DomainError:
                    log.info("a lobby peer could not enter the call of case %s", case_id)

    async def end(self, case_id: int, reason: str) -> None:
        """The session ended: recordings stop, everybody leaves, the room hears it."""
        request_id = f"call-{secrets.token_hex(4)}"
        for hook in self.on_end:
            try:
                await hook(case_id, reason)
            except Exception:
                log.exception("ending the recording of case %s failed", case_id)
        async with self.lock(case_id):
            call = self._calls.pop(case_id, None)
            if call is not None:
                call.open = False
                for peer in call.in_call():
                    await self._record_leave(peer, request_id, reason)
        await self._transport.broadcast(
            case_room(case_id), "call:ended", {"case_id": case_id, "reason": reason}
        )

    # -- helpers ------------------------------------------------------------------------

    async def _enter(self, call: Call, peer: CallPeer, request_id: str) -> None:
        await self.record(
            peer.connection.actor(request_id),
            "call.join",
            call.case_id,
            lambda _case: ("call.join", {"peer_id": peer.peer_id}),
            object_id=peer.peer_id,
        )
        peer.state = IN_CALL
        others = [p.public() for p in call.in_call() if p is not peer]
        await self._transport.send(
            peer.sid, "call:admitted", {"case_id": call.case_id, "peers_in_call": others}
        )
        await self._announce_joined(call, peer)
        await self._lobby_changed(call)

    async def _record_leave(self, peer: CallPeer, request_id: str, reason: str) -> None:
        event = ("call.leave", {"peer_id": peer.peer_id, "reason": reason})
        try:
            await self.record(
                peer.connection.actor(request_id),
                "call.leave",
                peer.case_id,
                (lambda _case: event) if peer.state == IN_CALL else None,
                object_id=peer.peer_id,
            )
        except DomainError:
            # Removed from the case: the leave is still audited (denied) by the unit; the
            # call forgets the peer regardless.
            log.info("leaving the call was recorded as refused")

    async def _announce_joined(self, call: Call, peer: CallPeer) -> None:
        notice = {"case_id": call.case_id, "peer": peer.public()}
        for other in call.in_call():
            if other is not peer:
                await self._transport.send(other.sid, "call:peer_joined", notice)

    async def _announce_left(self, call: Call, peer: CallPeer) -> None:
        if peer.state == IN_CALL:
            notice = {"case_id": call.case_id, "peer_id": peer.peer_id}
            for other in call.in_call():
                await self._transport.send(other.sid, "call:peer_left", notice)
        else:
            await self._lobby_changed(call)

    async def entered_room(self, connection: Connection, case_id: int, role: str) -> None:
        """A chair or secretary opening the case room sees who already waits."""
        call = self._calls.get(case_id)
        if role in TRIAGE and call is not None and call.waiting():
            waiting = [p.public() for p in call.waiting()]
            await self._transport.send(
                connection.sid, "call:lobby", {"case_id": case_id, "waiting": waiting}
            )

    async def _lobby_changed(self, call: Call) -> None:
        waiting = [p.public() for p in call.waiting()]
        await self.to_triage(
            call.case_id, "call:lobby", {"case_id": call.case_id, "waiting": waiting}
        )

    async def to_triage(self, case_id: int, event: str, data: Json) -> None:
        """To the chair's and secretary's sockets in the room."""
        for entry in await self.rooms.peers(case_id):
            if entry.role in TRIAGE:
                await self._transport.send(entry.sid, event, data)
