"""The call's client events (``call:*``, ``rtc:*``, ``rec:*``): each parses its payload and
calls one service method. The application factory hands this table to the namespace."""

from __future__ import annotations

from collections.abc import Callable

from telemed.realtime.connections import Connection
from telemed.realtime.namespace import Handler, parsed
from telemed.shapes import Json
from telemed.signaling.lifetime import CallParts
from telemed.signaling.schemas import (
    AdmitInput,
    CaseOnly,
    ConsentInput,
    JoinCallInput,
    ModeInput,
    SignalInput,
    StatsInput,
)


def call_handlers(parts: Callable[[], CallParts]) -> dict[str, Handler]:
    """``parts`` gives the running call's services (built at start-up)."""

    async def config(connection: Connection, _request_id: str, _data: object) -> Json:
        return {"ok": True, "iceServers": parts().ice.for_principal(connection.principal)}

    return {
        "rtc:config": config,
        "call:join": parsed(JoinCallInput, lambda: parts().service.join),
        "call:leave": parsed(CaseOnly, lambda: parts().service.leave),
        "call:admit": parsed(AdmitInput, lambda: parts().service.admit),
        "call:start": parsed(CaseOnly, lambda: parts().service.start),
        "call:mode": parsed(ModeInput, lambda: parts().relay.mode),
        "rtc:signal": parsed(SignalInput, lambda: parts().relay.signal),
        "rtc:stats": parsed(StatsInput, lambda: parts().relay.stats),
        "rec:consent": parsed(ConsentInput, lambda: parts().recording.consent),
        "rec:start": parsed(CaseOnly, lambda: parts().recording.start),
        "rec:stop": parsed(CaseOnly, lambda: parts().recording.stop),
    }
