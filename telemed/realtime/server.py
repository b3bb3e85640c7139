"""Creating the Socket.IO server: origins, buffer sizes and the Redis manager."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import socketio

from telemed.settings import Settings

log = logging.getLogger(__name__)

# The largest message the protocol carries is an SDP offer with many candidates (about
# 20 KiB); notes are capped well below. Attachments never travel over Socket.IO.
MAX_MESSAGE_BYTES = 64 * 1024
ROOM_PREFIX = "case:"


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


def create_socketio_server(settings: Settings) -> socketio.AsyncServer:
    manager = None
    if settings.redis_url:
        manager = socketio.AsyncRedisManager(settings.redis_url)
    return socketio.AsyncServer(
        async_mode="aiohttp",
        client_manager=manager,
        cors_allowed_origins=OriginPolicy(settings.allowed_origins),
        cors_credentials=True,
        max_http_buffer_size=MAX_MESSAGE_BYTES,
        logger=False,
        engineio_logger=False,
    )


def open_connections(sio: socketio.AsyncServer) -> int:
    return len(sio.eio.sockets)


def open_case_rooms(sio: socketio.AsyncServer) -> int:
    rooms = sio.manager.rooms.get("/", {})
    return sum(1 for room in rooms if isinstance(room, str) and room.startswith(ROOM_PREFIX))
