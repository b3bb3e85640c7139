"""The per-user channel: each signed-in socket is in its user's room, ``user:<id>``.

What is sent there (the stored notifications, ``notify``, and the unread count, ``inbox``)
is decided in ``telemed/notifications``; delivery only names the room and the broadcaster,
which reaches the user's sockets on every process (through the Redis manager).
"""

from __future__ import annotations

from typing import Protocol

from telemed.shapes import Json


class Broadcaster(Protocol):
    async def broadcast(
        self, room: str, event: str, data: Json, skip_sid: str | None = None
    ) -> None:
        """Emit to a room on every process."""
        ...


def user_room(user_id: int) -> str:
    return f"user:{user_id}"
