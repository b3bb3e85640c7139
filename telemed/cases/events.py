"""Delivering committed case events beyond the request that wrote them.

Services hand every event to a sink after the transaction commits; the realtime layer's
sink pushes them to the case room. Tests and the CLI use the silent sink.
"""

from __future__ import annotations

from typing import Any, Protocol

from telemed.accounts.principal import Principal

Json = dict[str, Any]


class CaseEventSink(Protocol):
    async def publish(self, events: list[Json]) -> None:
        """Called after commit with the events in seq order."""
        ...


class SilentSink:
    async def publish(self, events: list[Json]) -> None:
        return None


def principal_actor(principal: Principal) -> Json:
    """The actor of an event, as the board shows it."""
    return {
        "id": principal.user_id,
        "username": principal.username,
        "full_name": principal.full_name,
    }
