"""Creating the Socket.IO server: origins, buffer sizes, the wire rules and the Redis manager."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

import socketio

from telemed.realtime.rooms import ROOM_PREFIX, case_room
from telemed.realtime.wire import WireServer
from telemed.settings import Settings

log = logging.getLogger(__name__)

# The largest message the protocol carries is an SDP offer with many candidates (about
# 20 KiB); notes are capped well below. Attachments never travel over Socket.IO.
MAX_MESSAGE_BYTES = 64 * 1024
# Where python-socketio serves Engine.IO (its default path, named so the app can list it
# among the long-lived routes).
SOCKETIO_ROUTE = "/socket.io/"


class OriginPolicy:
    """Allows the server's own origin and the configured allowlist, nothing else.

    python-engineio reads an empty list as "allow every origin", so Telemed always hands
    it this callable instead of a list.
    """

    def __init__(self, allowed: list[str]) -> None:
        self._allowed = frozenset(origin.rstrip("/") for origin in allowed)

    def __call__(self, origin: str | None, environ: Mapping[str, Any]) -> bool:
        if not origin:
            return False
        own = f"{environ.get('wsgi.url_scheme', 'http')}://{environ.get('HTTP_HOST', '')}"
        return origin.rstrip("/") == own or origin.rstrip("/") in self._allowed


def create_socketio_server(
    settings: Settings, refused: Callable[[str], None]
) -> socketio.AsyncServer:
    """``refused`` counts each frame the server refuses, by reason (see wire.py)."""
    manager = None
    if settings.redis_url:
        manager = socketio.AsyncRedisManager(
            settings.redis_url, channel=f"{settings.redis_prefix}:socketio"
        )
    return WireServer(
        refused=refused,
        async_mode="aiohttp",
        client_manager=manager,
        cors_allowed_origins=OriginPolicy(settings.allowed_origins),
        cors_credentials=True,
        max_http_buffer_size=MAX_MESSAGE_BYTES,
        logger=False,
    )


def open_connections(sio: socketio.AsyncServer) -> int:
    return len(sio.eio.sockets)


def open_case_rooms(sio: socketio.AsyncServer) -> int:
    rooms = sio.manager.rooms.get("/", {})
    return sum(1 for room in rooms if isinstance(room, str) and room.startswith(ROOM_PREFIX))


class SocketTransport:
    """How the room service reaches sockets (the ``RoomTransport`` of a running server)."""

    def __init__(self, sio: socketio.AsyncServer) -> None:
        self._sio = sio

    async def send(self, to: str | list[str], event: str, data: dict[str, Any]) -> None:
        # ignore_queue: each process delivers case events to its own sockets only. Given a
        # list, python-socketio encodes the message once for all of them.
        await self._sio.emit(event, data, to=to, ignore_queue=True)

    def listeners(self, case_id: int) -> set[str]:
        return {sid for sid, _ in self._sio.manager.get_participants("/", case_room(case_id))}

    async def broadcast(
        self, room: str, event: str, data: dict[str, Any], skip_sid: str | None = None
    ) -> None:
        await self._sio.emit(event, data, room=room, skip_sid=skip_sid)

    async def enter(self, sid: str, room: str) -> None:
        await self._sio.enter_room(sid, room)

    async def leave(self, sid: str, room: str) -> None:
        await self._sio.leave_room(sid, room)

    async def disconnect(self, sid: str) -> None:
        await self._sio.disconnect(sid)
