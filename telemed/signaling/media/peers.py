"""Every RTCPeerConnection the server owns, so that none outlives its reason to exist.

A connection is closed when it fails, when its session ends, and at shutdown; closing
removes it from the registry. aiortc does not close a failed connection by itself, and
a forgotten one keeps its ICE, DTLS and decoder tasks (and threads) alive.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from aiortc import RTCConfiguration, RTCPeerConnection

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PeerInfo:
    """What a connection is for: the session (the case whose call it belongs to) and the
    remote peer id within it."""

    session: int
    peer_id: str


class PeerRegistry:
    def __init__(self) -> None:
        self._peers: dict[RTCPeerConnection, PeerInfo] = {}
        self._closing: set[asyncio.Task[None]] = set()

    def __len__(self) -> int:
        return len(self._peers)

    def connections(self, session: int | None = None) -> list[RTCPeerConnection]:
        return [pc for pc, info in self._peers.items() if session in (None, info.session)]

    def open(
        self, session: int, peer_id: str, configuration: RTCConfiguration | None = None
    ) -> RTCPeerConnection:
        pc = RTCPeerConnection(configuration)
        self._peers[pc] = PeerInfo(session, peer_id)

        @pc.on("connectionstatechange")
        def _state_changed() -> None:
            if pc.connectionState == "failed" and pc in self._peers:
                log.info("peer connection failed; closing it")
                task = asyncio.ensure_future(self.close(pc))
                self._closing.add(task)
                task.add_done_callback(self._closing.discard)

        return pc

    async def close(self, pc: RTCPeerConnection) -> None:
        if self._peers.pop(pc, None) is None:
            return
        await pc.close()

    async def close_session(self, session: int) -> None:
        for pc in self.connections(session):
            await self.close(pc)

    async def close_all(self) -> None:
        for pc in self.connections():
            await self.close(pc)
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)
