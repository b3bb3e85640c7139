"""The default namespace: authenticated connections, case rooms and the per-user channel.

Handlers are thin: rate limit, parse the payload into a schema, call one ``RoomService``
method, answer the ack. Every failure goes through one error path that answers
``{"ok": false, "error": {"code", "message"}}`` with the same codes as HTTP.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

import socketio
from aiohttp import web
from pydantic import BaseModel

from telemed import appkeys
from telemed.errors import AuthenticationRequired, DomainError
from telemed.http.auth import request_address
from telemed.http.errors import error_body
from telemed.http.requests import parse_model
from telemed.logs import request_id_var
from telemed.realtime.connections import (
    Connection,
    Connections,
    TokenBucket,
    authenticate_connection,
    connection_token,
)
from telemed.realtime.rooms import RoomService
from telemed.realtime.schemas import JoinInput, LeaveInput, NoteInput
from telemed.shapes import Json

log = logging.getLogger(__name__)

# A client event's handler: the connection, the request id and the raw payload.
Handler = Callable[[Connection, str, object], Awaitable[Json]]
# What a handler calls once the payload is parsed: one service method.
Method = Callable[[Connection, str, Any], Awaitable[Json]]


def parsed(schema: type[BaseModel], method: Callable[[], Method]) -> Handler:
    """A handler that parses the payload into ``schema`` and calls one service method.

    ``method`` is looked up per message: services are built when the application starts,
    after the namespace is registered.
    """

    async def handle(connection: Connection, request_id: str, data: object) -> Json:
        return await method()(connection, request_id, parse_model(schema, data))

    return handle


def room_handlers(rooms: Callable[[], RoomService]) -> dict[str, Handler]:
    """The case room's own events."""
    return {
        "case:join": parsed(JoinInput, lambda: rooms().join),
        "case:leave": parsed(LeaveInput, lambda: rooms().leave),
        "case:note": parsed(NoteInput, lambda: rooms().note),
    }


class RateLimited(DomainError):
    code = "rate_limited"
    default_message = "Too many messages; slow down."


class UnknownEvent(DomainError):
    code = "unknown_event"
    default_message = "This server does not know that event."


def error_ack(error: DomainError) -> Json:
    return {"ok": False, **error_body(error).as_json()}


class CaseRoomNamespace(socketio.AsyncNamespace):  # type: ignore[misc]
    """The events it handles are a table built by the application factory (the room's own
    and each feature's), so delivery imports no feature."""

    def __init__(
        self, app: web.Application, connections: Connections, handlers: dict[str, Handler]
    ) -> None:
        super().__init__("/")
        # Services are built when the application starts, after namespaces are registered,
        # so the namespace looks them up on the app as a view does on ``request.app``.
        self._app = app
        self._connections = connections
        self._tasks: set[asyncio.Task[None]] = set()
        # Event names hold ':', which ``on_<event>`` methods cannot spell.
        self._handlers = dict(handlers)

    @property
    def events(self) -> frozenset[str]:
        """Every client event this namespace handles (the audit completeness test reads it)."""
        return frozenset(self._handlers)

    @property
    def _rooms(self) -> RoomService:
        return self._app[appkeys.ROOM_SERVICE]

    async def trigger_event(self, event: str, *args: Any) -> Any:
        if event == "connect":
            return await self.on_connect(*args)
        if event == "disconnect":
            return await self.on_disconnect(args[0])
        return await self._message(event, args[0], args[1:])

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: object = None) -> None:
        try:
            principal = await authenticate_connection(
                self._app[appkeys.AUTH_SERVICE], environ, auth
            )
        except AuthenticationRequired as error:
            # The browser client sees this as connect_error: err.message and err.data.code.
            raise socketio.exceptions.ConnectionRefusedError(
                error.message, {"code": error.code}
            ) from None
        settings = self._app[appkeys.SETTINGS]
        token = connection_token(environ, auth)
        assert token is not None
        request = environ.get("aiohttp.request")
        connection = Connection(
            sid=sid,
            token=token,
            principal=principal,
            address=request_address(request) if request is not None else "unknown",
            bucket=TokenBucket(settings.socket_rate_per_second, settings.socket_burst),
        )
        # The connection is its state (no python-socketio session: nothing read it, and it
        # held a second reference to a principal per socket).
        self._connections.add(connection)
        await self.enter_room(sid, connection.user_room)

    async def on_disconnect(self, sid: str) -> None:
        connection = self._connections.pop(sid)
        if connection is None:
            return
        try:
            await self._rooms.disconnected(connection, f"sio-{secrets.token_hex(6)}")
        except Exception:
            log.exception("cleaning up a closed connection failed")

    async def _message(self, event: str, sid: str, args: tuple[Any, ...]) -> Json:
        """The one error path of realtime messages."""
        request_id = f"sio-{secrets.token_hex(6)}"
        reset = request_id_var.set(request_id)
        try:
            connection = self._connections.get(sid)
            if connection is None:
                raise AuthenticationRequired()
            self._limit(connection)
            handler = self._handlers.get(event)
            if handler is None:
                raise UnknownEvent()
            # Exactly one payload argument; anything else fails validation like a bad one.
            return await handler(connection, request_id, args[0] if len(args) == 1 else args)
        except AuthenticationRequired as error:
            self._later(self._drop(sid))
            return error_ack(error)
        except DomainError as error:
            return error_ack(error)
        except Exception:
            log.exception("realtime %s failed (reference %s)", event[:40], request_id)
            return {
                "ok": False,
                "error": {
                    "code": "internal_error",
                    "message": f"Something went wrong on the server (reference {request_id}).",
                },
            }
        finally:
            request_id_var.reset(reset)

    def _limit(self, connection: Connection) -> None:
        if connection.bucket.take():
            connection.strikes = 0
            return
        connection.strikes += 1
        if connection.strikes > self._app[appkeys.SETTINGS].socket_burst:
            log.warning("disconnecting a connection that keeps flooding")
            self._later(self._drop(connection.sid))
        raise RateLimited()

    async def _drop(self, sid: str) -> None:
        await self.disconnect(sid)

    def _later(self, work: Awaitable[None]) -> None:
        """Run after the current ack is queued (the ack goes out first)."""

        async def run() -> None:
            await work

        task = asyncio.create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
