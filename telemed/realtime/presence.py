"""Who is in each case room, shared by every server process.

An entry is one connection in one case: the public part (``peer_id``, ``user``, ``role``)
goes to clients; ``sid`` and ``process`` stay on the server, which uses them to reach the
sockets of a room's chair and secretary (the call's lobby and figures).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Protocol

from redis.asyncio import Redis

from telemed.shapes import Json


@dataclass(frozen=True, slots=True)
class Peer:
    peer_id: str
    user: Json
    role: str
    sid: str
    process: str

    def public(self) -> Json:
        return {"peer_id": self.peer_id, "user": self.user, "role": self.role}


def _sorted(peers: list[Peer]) -> list[Peer]:
    return sorted(peers, key=lambda p: (p.user.get("full_name", ""), p.peer_id))


class PresenceStore(Protocol):
    async def add(self, case_id: int, peer: Peer) -> None: ...

    async def remove(self, case_id: int, peer_id: str) -> None: ...

    async def peers(self, case_id: int) -> list[Peer]: ...

    async def heartbeat(self) -> None:
        """Tell the others this process is alive (its entries stay valid)."""
        ...

    async def close(self) -> None:
        """Remove every entry this process added (orderly shutdown)."""
        ...


class InProcessPresence:
    """One process: the rooms live in memory."""

    def __init__(self) -> None:
        self._rooms: dict[int, dict[str, Peer]] = {}

    async def add(self, case_id: int, peer: Peer) -> None:
        self._rooms.setdefault(case_id, {})[peer.peer_id] = peer

    async def remove(self, case_id: int, peer_id: str) -> None:
        room = self._rooms.get(case_id)
        if room is not None:
            room.pop(peer_id, None)
            if not room:
                del self._rooms[case_id]

    async def peers(self, case_id: int) -> list[Peer]:
        return _sorted(list(self._rooms.get(case_id, {}).values()))

    async def heartbeat(self) -> None:
        return None

    async def close(self) -> None:
        self._rooms.clear()


class RedisPresence:
    """Several processes: a Redis hash per case, entries tagged with their process.

    Each process keeps a ``process:<id>`` key alive with a TTL it refreshes by heartbeat;
    an entry whose process key has expired (the process died without cleaning up) is
    ignored and deleted by the next reader.
    """

    def __init__(self, redis: Redis, prefix: str, process: str, ttl: int = 30) -> None:
        self._redis = redis
        self._prefix = prefix
        self._process = process
        self._ttl = ttl
        self._mine: set[tuple[int, str]] = set()

    def _room(self, case_id: int) -> str:
        return f"{self._prefix}:presence:{case_id}"

    def _alive(self, process: str) -> str:
        return f"{self._prefix}:process:{process}"

    async def add(self, case_id: int, peer: Peer) -> None:
        await self._redis.hset(self._room(case_id), peer.peer_id, json.dumps(asdict(peer)))
        self._mine.add((case_id, peer.peer_id))

    async def remove(self, case_id: int, peer_id: str) -> None:
        await self._redis.hdel(self._room(case_id), peer_id)
        self._mine.discard((case_id, peer_id))

    async def peers(self, case_id: int) -> list[Peer]:
        raw = await self._redis.hgetall(self._room(case_id))
        entries = [Peer(**json.loads(value)) for value in raw.values()]
        processes = sorted({peer.process for peer in entries})
        alive: dict[str, bool] = {}
        if processes:
            counts = [await self._redis.exists(self._alive(p)) for p in processes]
            alive = {p: bool(n) for p, n in zip(processes, counts, strict=True)}
        stale = [peer.peer_id for peer in entries if not alive.get(peer.process)]
        if stale:
            await self._redis.hdel(self._room(case_id), *stale)
        return _sorted([peer for peer in entries if alive.get(peer.process)])

    async def heartbeat(self) -> None:
        await self._redis.set(self._alive(self._process), "1", ex=self._ttl)

    async def close(self) -> None:
        for case_id, peer_id in list(self._mine):
            await self._redis.hdel(self._room(case_id), peer_id)
        self._mine.clear()
        await self._redis.delete(self._alive(self._process))
