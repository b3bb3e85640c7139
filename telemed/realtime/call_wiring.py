"""The lifetime of calls: built after the live rooms and the signaling service.

Registered after ``_signaling`` in the factory, so at shutdown it is torn down first and
the recordings that the signaling service then stops are still attached to their cases.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from telemed import appkeys
from telemed.realtime.call_recording import RecordingControl
from telemed.realtime.calls import CallService
from telemed.realtime.server import SocketTransport
from telemed.realtime.sink import RelaySink


async def calls(app: web.Application) -> AsyncIterator[None]:
    rooms = app[appkeys.ROOM_SERVICE]
    service = CallService(
        work=app[appkeys.AUDITED_WORK],
        clock=app[appkeys.CLOCK],
        sink=app[appkeys.CASE_EVENT_SINK],
        rooms=rooms,
        cases=app[appkeys.CASE_SERVICE],
        transport=SocketTransport(app[appkeys.SOCKETIO]),
        signaling=app[appkeys.SIGNALING_SERVICE],
    )
    rooms.on_attach.append(service.entered_room)
    rooms.on_detach.append(service.left)
    relay = app[appkeys.CASE_EVENT_SINK]
    if isinstance(relay, RelaySink) and relay.target is not None:
        relay.target.observers.append(service.on_events)
    app[appkeys.CALL_SERVICE] = service
    app[appkeys.METRICS].open_calls.set_function(service.open_calls)
    app[appkeys.RECORDING_CONTROL] = RecordingControl(
        service, app[appkeys.AUDITED_WORK], app[appkeys.ATTACHMENT_SERVICE]
    )
    yield
