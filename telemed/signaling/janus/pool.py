"""The Janus instances Telemed may use (``TELEMED_JANUS_URL``, one or several): where a new
room goes, and whether they answer (for ``/readyz``).

A room is placed on the instance with the fewest rooms this process placed there, among
those that answer, and stays there for its session.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence
from typing import Any

from telemed.signaling.janus.client import Janus
from telemed.signaling.janus.errors import SfuRefused, SfuUnavailable

CHECK_SECONDS = 2.0


class JanusPool:
    def __init__(self, instances: Sequence[Janus]) -> None:
        self.instances = list(instances)
        self._rooms: Counter[int] = Counter()

    def __bool__(self) -> bool:
        return bool(self.instances)

    def ranked(self) -> list[Janus]:
        """Every instance, the least loaded first (ties: in the configured order)."""
        order = sorted(range(len(self.instances)), key=lambda i: (self._rooms[i], i))
        return [self.instances[i] for i in order]

    def placed(self, janus: Janus, delta: int) -> None:
        """A room was placed on ``janus`` (+1) or left it (-1)."""
        index = self.instances.index(janus)
        self._rooms[index] = max(0, self._rooms[index] + delta)

    def rooms(self) -> dict[int, int]:
        return {i: self._rooms[i] for i in range(len(self.instances))}

    async def check(self) -> tuple[bool, dict[str, Any]]:
        """Ready when at least one instance answers ``info`` (calls go to those that do).
        Instances are named by their position in the setting, never by address."""

        async def answers(janus: Janus) -> bool:
            try:
                await asyncio.wait_for(janus.info(), CHECK_SECONDS)
            except (SfuUnavailable, SfuRefused, TimeoutError):
                return False
            return True

        results = await asyncio.gather(*(answers(j) for j in self.instances))
        detail = {
            "instances": len(self.instances),
            "answering": sum(results),
            "rooms": self.rooms(),
        }
        return any(results), detail

    async def close(self) -> None:
        for janus in self.instances:
            await janus.close()
