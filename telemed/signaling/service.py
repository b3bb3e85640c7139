"""The video call of a case room: lobby, admission, leaving, and the call's end.

The call is open exactly while the case is ``in_session``: starting the session (over
HTTP or ``call:start``) opens it and admits the lobby, signing the decision (or cancelling)
ends it. Both are learned from committed case events (``committed``, as a listener of the
case log), so the HTTP path and the socket path behave the same. Two browsers connect to
each other directly (a mesh; the relay, relay.py, passes their descriptions and
candidates); from the third participant the SFU bridge (sfu.py) may move the call to
Janus, and this service tells it who enters and leaves.
Joining and leaving the call are case events and audited; signals are not (hundreds per
call).
"""

from __future__ import annotations

import logging
import secrets

from telemed.accounts.auth import AuthService
from telemed.background import Background
from telemed.cases import access
from telemed.cases.log import CaseLog
from telemed.cases.models import CaseStatus
from telemed.cases.schemas import TransitionInput
from telemed.cases.service import CaseService
from telemed.errors import Conflict, DomainError, Forbidden, NotFound
from telemed.realtime.connections import Connection, reauthenticate
from telemed.realtime.presence import PresenceStore
from telemed.realtime.rooms import RoomTransport, case_role, case_room
from telemed.shapes import Json, actor_json
from telemed.signaling.recording import RecordingControl
from telemed.signaling.schemas import AdmitInput, CaseOnly, JoinCallInput
from telemed.signaling.sfu import SfuBridge
from telemed.signaling.state import (
    IN_CALL,
    LOBBY,
    TRIAGE,
    Call,
    CallPeer,
    Calls,
    to_triage,
)

log = logging.getLogger(__name__)

ENDING = frozenset({CaseStatus.DECIDED.value, CaseStatus.CANCELLED.value, CaseStatus.CLOSED.value})


class CallService:
    def __init__(
        self,
        *,
        case_log: CaseLog,
        cases: CaseService,
        auth: AuthService,
        presence: PresenceStore,
        transport: RoomTransport,
        calls: Calls,
        recording: RecordingControl,
        sfu: SfuBridge,
    ) -> None:
        self._log = case_log
        self._cases = cases
        self._auth = auth
        self._presence = presence
        self._transport = transport
        self._calls = calls
        self._recording = recording
        self._sfu = sfu
        self._tasks = Background(log, "following the session of a case failed")

    def open_calls(self) -> int:
        return len(self._calls)

    # -- client messages ----------------------------------------------------------------

    async def join(self, connection: Connection, request_id: str, join: JoinCallInput) -> Json:
        principal = await reauthenticate(self._auth, connection)
        case_id = join.case_id
        async with self._calls.lock(case_id):
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
                async with self._log.change(
                    connection.actor(request_id),
                    "call.join",
                    case_id,
                    rule=access.require_board,
                    object_id=connection.peer_id,
                ) as change:
                    # Inside the audited unit, so that a refusal leaves its row too.
                    if case_id not in connection.cases:
                        raise Forbidden("Join the case room (case:join) first.")
                    case = change.case
                    # Guests wait to be admitted even while the call runs.
                    entering = case.status is CaseStatus.IN_SESSION and not principal.is_guest
                    if entering:
                        await change.append("call.join", {"peer_id": connection.peer_id})
                call = self._calls.open(case_id, False)
                call.open = case.status is CaseStatus.IN_SESSION
                state = IN_CALL if entering else LOBBY
                role = case_role(principal, case)
                peer = CallPeer(case_id, connection, role, actor_json(principal), state)
                call.peers[connection.peer_id] = peer
                if state == IN_CALL:
                    await self._sfu.placed(call, peer)
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
                **call.topology_json(),
            }

    async def admit(self, connection: Connection, request_id: str, admit: AdmitInput) -> Json:
        await reauthenticate(self._auth, connection)
        case_id = admit.case_id
        async with self._calls.lock(case_id):
            call = self._calls.get(case_id)
            async with self._log.change(
                connection.actor(request_id),
                "call.admit",
                case_id,
                rule=access.require_board,
                object_id=admit.peer_id,
            ) as change:
                case = change.case
                access.require_triage(connection.principal, case)
                if case.status is not CaseStatus.IN_SESSION or call is None:
                    raise Conflict("The call has not started.", status=case.status.value)
                waiting = call.peers.get(admit.peer_id)
                if waiting is None or waiting.state != LOBBY:
                    raise NotFound("No one by that id is waiting in the lobby.")
            await self._enter(call, waiting, request_id)
        return {"ok": True}

    async def start(self, connection: Connection, request_id: str, start: CaseOnly) -> Json:
        """Start the session (the chair or secretary): the call opens when it commits."""
        await reauthenticate(self._auth, connection)
        await self._cases.transition(
            connection.actor(request_id), start.case_id, TransitionInput(action="start_session")
        )
        return {"ok": True}

    async def leave(self, connection: Connection, request_id: str, leave: CaseOnly) -> Json:
        await self.left_room(connection, leave.case_id, request_id)
        return {"ok": True}

    # -- the case room (a RoomListener) -------------------------------------------------

    async def entered_room(self, connection: Connection, case_id: int, role: str) -> None:
        """A chair or secretary opening the case room sees who already waits."""
        call = self._calls.get(case_id)
        if role in TRIAGE and call is not None and call.waiting():
            waiting = [p.public() for p in call.waiting()]
            await self._transport.send(
                connection.sid, "call:lobby", {"case_id": case_id, "waiting": waiting}
            )

    async def left_room(self, connection: Connection, case_id: int, request_id: str) -> None:
        """The connection leaves the call (also when it leaves the room or drops)."""
        async with self._calls.lock(case_id):
            call = self._calls.get(case_id)
            peer = call.peers.get(connection.peer_id) if call else None
            if call is not None and peer is not None:
                await self._remove(call, peer, request_id, "left")

    # -- the session starting and ending (a listener of the case log) -------------------

    async def committed(self, events: list[Json]) -> None:
        # Beside the writer: its answer waits for its commit, not for the call to follow.
        self._tasks.spawn(self._follow(events))

    async def _follow(self, events: list[Json]) -> None:
        for event in events:
            case_id, kind, data = event["case_id"], event["type"], event.get("data") or {}
            if kind == "case.session_started":
                await self._open(case_id)
            elif kind.startswith("case.") and data.get("to") in ENDING:
                await self.end(case_id, f"case {data['to']}")
            elif kind == "case.continued_in_writing":
                # The session will not happen (or stops): the case goes on in writing.
                await self.end(case_id, "case continued in writing")

    async def _open(self, case_id: int) -> None:
        request_id = f"call-{secrets.token_hex(4)}"
        async with self._calls.lock(case_id):
            call = self._calls.open(case_id, True)
            call.open = True
            # Guests always wait for the chair to admit them; everyone else enters now.
            for peer in [p for p in call.waiting() if not p.connection.principal.is_guest]:
                try:
                    await self._enter(call, peer, request_id)
                except DomainError:
                    log.info("a lobby peer could not enter the call of case %s", case_id)
        # After the lobby is in: making the SFU room must not keep anyone waiting.
        await self._sfu.session_started(case_id)

    async def end(self, case_id: int, reason: str) -> None:
        """The session ended: recordings stop, everybody leaves, the room hears it."""
        request_id = f"call-{secrets.token_hex(4)}"
        try:
            await self._recording.session_ended(case_id)
        except Exception:
            log.exception("ending the recording of case %s failed", case_id)
        try:
            await self._sfu.session_ended(case_id)
        except Exception:
            log.exception("ending the SFU room of case %s failed", case_id)
        async with self._calls.lock(case_id):
            call = self._calls.pop(case_id)
            if call is not None:
                call.open = False
                for peer in call.in_call():
                    await self._record_leave(peer, request_id, reason)
        await self._transport.broadcast(
            case_room(case_id), "call:ended", {"case_id": case_id, "reason": reason}
        )

    async def close(self) -> None:
        """At shutdown: what follows committed events stops."""
        await self._tasks.close()

    # -- helpers ------------------------------------------------------------------------

    async def _remove(self, call: Call, peer: CallPeer, request_id: str, reason: str) -> None:
        """``peer`` is no longer in ``call`` (under the case's lock)."""
        call.peers.pop(peer.peer_id, None)
        if not call.peers:
            self._calls.pop(call.case_id)
        # Its Janus handles go first: nothing of its media outlives its place in the call.
        await self._sfu.left(call.case_id, peer.peer_id)
        await self._record_leave(peer, request_id, reason)
        await self._announce_left(call, peer)

    async def _enter(self, call: Call, peer: CallPeer, request_id: str) -> None:
        async with self._log.change(
            peer.connection.actor(request_id),
            "call.join",
            call.case_id,
            rule=access.require_board,
            object_id=peer.peer_id,
        ) as change:
            await change.append("call.join", {"peer_id": peer.peer_id})
        peer.state = IN_CALL
        await self._sfu.placed(call, peer)
        others = [p.public() for p in call.in_call() if p is not peer]
        admitted = {"case_id": call.case_id, "peers_in_call": others, **call.topology_json()}
        await self._transport.send(peer.sid, "call:admitted", admitted)
        await self._announce_joined(call, peer)
        await self._lobby_changed(call)

    async def _record_leave(self, peer: CallPeer, request_id: str, reason: str) -> None:
        try:
            async with self._log.change(
                peer.connection.actor(request_id),
                "call.leave",
                peer.case_id,
                rule=access.require_board,
                object_id=peer.peer_id,
            ) as change:
                if peer.state == IN_CALL:
                    await change.append("call.leave", {"peer_id": peer.peer_id, "reason": reason})
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

    async def _lobby_changed(self, call: Call) -> None:
        waiting = [p.public() for p in call.waiting()]
        await to_triage(
            self._presence,
            self._transport,
            call.case_id,
            "call:lobby",
            {"case_id": call.case_id, "waiting": waiting},
        )
