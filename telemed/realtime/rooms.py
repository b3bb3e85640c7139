"""Case rooms: joining with replay, leaving, notes, presence, and checking access again.

No Socket.IO here: the transport hands in a ``Connection`` and gets JSON back; sockets are
reached through the ``RoomTransport`` it provides. Every state-changing message
re-authenticates the connection's session, because the principal cached at connect time
may be stale (signed out, disabled, removed from a council).
"""

from __future__ import annotations

import itertools
import logging
import secrets
from collections.abc import Sequence
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from telemed.accounts.auth import AuthService
from telemed.accounts.principal import Principal
from telemed.audit.work import AuditedWork
from telemed.cases import access
from telemed.cases.models import Case
from telemed.cases.repository import CaseRepository
from telemed.cases.schemas import NewNote
from telemed.cases.service import CaseService, stored
from telemed.errors import AuthenticationRequired, DomainError
from telemed.realtime.connections import Connection, Connections, reauthenticate
from telemed.realtime.feed import CaseFeed
from telemed.realtime.presence import Peer, PresenceStore
from telemed.realtime.schemas import JoinInput, LeaveInput, NoteInput
from telemed.shapes import Json, actor_json

log = logging.getLogger(__name__)

ROOM_PREFIX = "case:"


def case_room(case_id: int) -> str:
    return f"{ROOM_PREFIX}{case_id}"


def case_role(principal: Principal, case: Case) -> str:
    """The user's part in this case, as the presence list shows it."""
    if principal.is_guest:
        return "guest"
    if access.is_requester_side(principal, case):
        return "requester"
    seat = access.council_role(principal, case)
    return seat.value if seat is not None else "observer"


class RoomTransport(Protocol):
    async def send(self, to: str | list[str], event: str, data: Json) -> None:
        """To one socket (or several) of this process."""
        ...

    async def broadcast(
        self, room: str, event: str, data: Json, skip_sid: str | None = None
    ) -> None:
        """To a room, on every process."""
        ...

    async def enter(self, sid: str, room: str) -> None: ...

    async def leave(self, sid: str, room: str) -> None: ...

    async def disconnect(self, sid: str) -> None: ...


class RoomListener(Protocol):
    """Told when a connection enters a case room (with its role there) and when it leaves
    it (by asking, dropping or being removed): the call follows the room."""

    async def entered_room(self, connection: Connection, case_id: int, role: str) -> None: ...

    async def left_room(self, connection: Connection, case_id: int, request_id: str) -> None: ...


class Tally(Protocol):
    def inc(self, amount: float = 1) -> None: ...


class CommittedEvents:
    """Reads the committed log for live delivery to sockets that already joined."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._sessionmaker = sessionmaker

    async def between(self, case_id: int, after: int, upto: int) -> list[Json]:
        """Events ``after < seq <= upto``."""
        async with self._sessionmaker() as db, db.begin():
            repo = CaseRepository(db)
            return stored(await repo.events_after(case_id, after, max(upto - after, 0)))


class RoomService:
    def __init__(
        self,
        *,
        work: AuditedWork,
        sessionmaker: async_sessionmaker[AsyncSession],
        auth: AuthService,
        cases: CaseService,
        feed: CaseFeed,
        presence: PresenceStore,
        transport: RoomTransport,
        process: str,
        healed: Tally,
        listeners: Sequence[RoomListener] = (),
    ) -> None:
        self._work = work
        self._sessionmaker = sessionmaker
        self._auth = auth
        self._cases = cases
        self._feed = feed
        self._presence = presence
        self._transport = transport
        self._process = process
        # Events replayed to clients that found themselves behind the room's head.
        self._healed = healed
        # Each (connection, case) join gets a number: the sweep judges a membership only if
        # it is still the one it read the case for.
        self._joins = itertools.count(1)
        self._listeners = tuple(listeners)

    async def join(self, connection: Connection, request_id: str, join: JoinInput) -> Json:
        principal = await reauthenticate(self._auth, connection)
        actor = connection.actor(request_id)
        case_id, sid = join.case_id, connection.sid
        # The replay and the watermark are taken under the lock live delivery uses: every
        # event lands either in this replay or in a later case:event, exactly once. The
        # lock is held until the handler returns, so the ack is queued on the socket before
        # any live event after it.
        async with self._feed.hold(case_id):
            async with self._work(
                actor, "room.join", case_id=case_id, object_id=connection.peer_id
            ) as unit:
                repo = CaseRepository(unit.db)
                case = access.require_board(principal, await repo.get(case_id, for_update=True))
                events, last_seq = await self._replay(CaseRepository(unit.db), case, join)
                role = case_role(principal, case)
            if connection.closed:
                raise AuthenticationRequired("The connection has closed.")
            self._feed.attach(case_id, sid, last_seq)
            connection.cases[case_id] = next(self._joins)
            await self._transport.enter(sid, case_room(case_id))
            peer = Peer(connection.peer_id, actor_json(principal), role, sid, self._process)
            await self._presence.add(case_id, peer)
            peers = [p.public() for p in await self._presence.peers(case_id)]
            await self._transport.broadcast(
                case_room(case_id), "case:presence", {"case_id": case_id, "peers": peers}, sid
            )
            for listener in self._listeners:
                try:
                    await listener.entered_room(connection, case_id, role)
                except Exception:
                    log.exception("telling a new member of case %s about its call failed", case_id)
        if join.resync:
            self._healed.inc(len(events))
        return {"ok": True, "last_seq": last_seq, "events": events, "peers": peers}

    async def _replay(
        self, repo: CaseRepository, case: Case, join: JoinInput
    ) -> tuple[list[Json], int]:
        """The events after the join's ``after_seq`` (from their stored text), and the seq
        they end at."""
        after = min(join.after_seq, case.last_seq)
        rows = await repo.events_after(case.id, after, case.last_seq - after)
        return stored(rows), case.last_seq

    async def leave(self, connection: Connection, request_id: str, leave: LeaveInput) -> Json:
        if leave.case_id in connection.cases:
            await self._detach(connection, leave.case_id, request_id)
        return {"ok": True}

    async def note(self, connection: Connection, request_id: str, note: NoteInput) -> Json:
        await reauthenticate(self._auth, connection)
        new = NewNote(
            body=note.body,
            question=note.question,
            supersedes=note.supersedes,
            client_id=note.client_id,
        )
        stored, _created = await self._cases.add_note(
            connection.actor(request_id), note.case_id, new
        )
        return {"ok": True, "seq": stored["seq"], "note_id": stored["id"]}

    async def disconnected(self, connection: Connection, request_id: str) -> None:
        """The socket is gone: leave every room it was in (and say so to the others)."""
        # Marked first: a join still waiting for its lock sees it and does not attach.
        connection.closed = True
        for case_id in sorted(connection.cases):
            await self._detach(connection, case_id, request_id)

    async def _detach(
        self,
        connection: Connection,
        case_id: int,
        request_id: str,
        *,
        removed: bool = False,
        joined: int | None = None,
    ) -> None:
        """Leave the case's room; with ``joined``, only if that join is still the current one."""
        sid = connection.sid
        async with self._feed.hold(case_id):
            current = connection.cases.get(case_id)
            if current is None or (joined is not None and current != joined):
                return
            self._feed.detach(case_id, sid)
            del connection.cases[case_id]
            if not connection.closed:
                await self._transport.leave(sid, case_room(case_id))
            await self._presence.remove(case_id, connection.peer_id)
            peers = [p.public() for p in await self._presence.peers(case_id)]
            await self._transport.broadcast(
                case_room(case_id), "case:presence", {"case_id": case_id, "peers": peers}
            )
        for listener in self._listeners:
            try:
                await listener.left_room(connection, case_id, request_id)
            except Exception:
                log.exception("leaving the call of case %s failed", case_id)
        if removed:
            await self._transport.send(sid, "case:removed", {"case_id": case_id})
        try:
            async with self._work(
                connection.actor(request_id),
                "room.leave",
                case_id=case_id,
                object_id=connection.peer_id,
            ):
                pass
        except Exception:
            log.exception("could not record leaving case %s", case_id)

    async def revalidate(self, connections: Connections) -> None:
        """Check every connection's session and every room it joined, as they are now.

        Ended sessions are disconnected; a connection that may no longer read a case is
        removed from its room with ``case:removed``. Every joined case is also brought up
        to its committed seq, which heals announcements lost between processes, and every
        socket of its room is told that seq (``case:head``), so that a client left behind
        for any other reason notices and asks for the rest.
        """
        request_id = f"sweep-{secrets.token_hex(4)}"
        principals: dict[str, Principal | None] = {}
        for connection in connections:
            if connection.closed:
                continue
            if connection.token not in principals:
                try:
                    principals[connection.token] = await self._auth.authenticate(
                        connection.token, touch=False
                    )
                except AuthenticationRequired:
                    principals[connection.token] = None
            principal = principals[connection.token]
            if principal is None:
                await self._transport.disconnect(connection.sid)
            else:
                connection.principal = principal
        # The memberships as they are before the read: one that begins (or begins again)
        # while the read is awaited was checked by its own join, against newer data.
        joined = [
            (connection, case_id, number)
            for connection in connections
            if not connection.closed and principals.get(connection.token) is not None
            for case_id, number in connection.cases.items()
        ]
        watched = sorted({case_id for _, case_id, _ in joined} | set(self._feed.cases()))
        async with self._sessionmaker() as db, db.begin():
            cases = await CaseRepository(db).cases_by_ids(watched)
        for connection, case_id, number in joined:
            if not _may_read(connection.principal, cases.get(case_id)):
                await self._detach(connection, case_id, request_id, removed=True, joined=number)
        for case_id, case in cases.items():
            await self._feed.announce(case_id, case.last_seq, tell_everyone=True)


def _may_read(principal: Principal, case: Case | None) -> bool:
    try:
        access.require_board(principal, case)
    except DomainError:
        return False
    return True
