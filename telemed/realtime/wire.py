"""What the Socket.IO server accepts from the network and what it may send.

Telemed's protocol is text frames of strict JSON (RFC 8259) and nothing else: no binary
events, no NaN or Infinity, no reserved event names from clients. python-socketio accepts
more than that by default, and its defaults cost memory or log floods:

- a binary packet announces how many attachments follow, and python-socketio keeps every
  attachment in memory until the count arrives (any count, any number of frames);
- a client event named ``connect`` or ``disconnect`` runs the lifecycle handlers;
- a malformed frame reaches the libraries' parsers and ends in a logged traceback;
- ``json.dumps`` writes NaN and Infinity, which browsers refuse to parse.

So each frame is checked where the libraries read it: Engine.IO text frames by
``GuardedWebSocket``, Socket.IO packets by ``TelemedPacket`` (the server's serializer),
and ``WireServer`` acts on a refusal: one warning line and a count per refused frame, an
error ack when the packet asked for one, and the connection closed at once for binary
data or after ``MAX_BAD_FRAMES`` malformed ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import math
import sys
from collections import Counter
from collections.abc import Callable, Iterator, MutableMapping
from typing import Any

import socketio
from engineio.async_drivers.aiohttp import WebSocket
from socketio import packet

from telemed.errors import FieldProblem, ValidationFailed
from telemed.http.errors import error_body

log = logging.getLogger(__name__)

# A client that sends this many malformed packets on one connection is closed.
MAX_BAD_FRAMES = 10
# At shutdown, how long client events still being handled get to finish before they are
# cancelled (either way before the database engine is disposed of).
HANDLER_GRACE_SECONDS = 5.0
# Engine.IO packet types a client sends: close, ping, pong, message, upgrade, noop.
_CLIENT_ENGINE_TYPES = frozenset("123456")
# The Socket.IO packet types a client may send, and the binary ones (as their digit).
_BINARY_TYPES = frozenset({str(packet.BINARY_EVENT), str(packet.BINARY_ACK)})
_CLIENT_PACKET_TYPES = frozenset({packet.CONNECT, packet.DISCONNECT, packet.EVENT, packet.ACK})

Refusals = Callable[[str], None]


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e400 parses to inf
        raise ValueError("a number out of range")
    return value


def _no_constants(name: str) -> float:
    raise ValueError(f"{name} is not JSON")


def _bounded_int(text: str) -> int:
    if len(text) > 100:
        raise ValueError("an integer too long")
    return int(text)


class StrictJson:
    """The json module of both libraries: RFC 8259 out and in.

    Refused input raises ``ValueError`` only (never ``RecursionError``), which is what the
    libraries' parsers expect of bad data.
    """

    @staticmethod
    def dumps(obj: object, **kwargs: Any) -> str:
        return json.dumps(obj, allow_nan=False, **kwargs)

    @staticmethod
    def loads(text: str | bytes, **_kwargs: Any) -> Any:
        try:
            return json.loads(
                text, parse_float=_finite, parse_int=_bounded_int, parse_constant=_no_constants
            )
        except RecursionError:
            raise ValueError("nested too deeply") from None


class RefusedFrame(Exception):
    def __init__(
        self,
        reason: str,
        *,
        fatal: bool = False,
        namespace: str | None = None,
        ack: int | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.fatal = fatal
        self.namespace = namespace
        self.ack = ack


class TelemedPacket(packet.Packet):  # type: ignore[misc]
    """A Socket.IO packet as Telemed's protocol has it: text, strict JSON, no attachments."""

    uses_binary_events = False
    json = StrictJson

    def decode(self, encoded_packet: object) -> int:
        if not isinstance(encoded_packet, str) or encoded_packet[:1] in _BINARY_TYPES:
            raise RefusedFrame("binary", fatal=True)
        try:
            attachments: int = super().decode(encoded_packet) or 0
        except (ValueError, TypeError, IndexError):
            raise self._refusal() from None
        if self.packet_type not in _CLIENT_PACKET_TYPES or attachments:
            raise RefusedFrame("malformed")
        if self.packet_type == packet.EVENT and not (
            isinstance(self.data, list) and self.data and isinstance(self.data[0], str)
        ):
            raise self._refusal()
        if self.packet_type == packet.ACK and not isinstance(self.data, list):
            raise RefusedFrame("malformed")
        return 0

    def _refusal(self) -> RefusedFrame:
        # The packet id comes before the JSON: a message with an ack callback is answered.
        asks = self.packet_type == packet.EVENT and isinstance(self.id, int)
        return RefusedFrame("malformed", namespace=self.namespace, ack=self.id if asks else None)


class GuardedWebSocket(WebSocket):  # type: ignore[misc]
    """python-engineio's aiohttp websocket, refusing frames that are not Engine.IO text.

    python-engineio decodes each websocket frame outside its error handling, so a frame
    that is not Engine.IO at all would end the request with aiohttp's traceback. No
    Socket.IO client sends one: the connection is closed on the first.

    It also forgets the headers of its 101 answer once they are sent: the response object
    lives as long as the connection, and its headers (the security headers among them)
    were the largest thing it kept that nothing reads again.
    """

    def __init__(self, handler: object, server: object, *, refused: Refusals) -> None:
        super().__init__(handler, server)
        self._refused = refused

    async def wait(self) -> str | bytes:
        # The 101 went out before python-engineio's first read (a test checks it). Cleared
        # here rather than by wrapping the handler, which would keep one more frame alive.
        if self._sock.headers:
            self._sock.headers.clear()
        data: str | bytes = await super().wait()
        if isinstance(data, str) and not _engine_frame(data):
            self._refused("engine")
            raise OSError("not an Engine.IO frame")  # python-engineio closes the socket
        return data


def _engine_frame(frame: str) -> bool:
    if frame[:1] not in _CLIENT_ENGINE_TYPES:
        return False
    # Only a message carries data; the others are bare or the upgrade's "probe".
    return frame[0] == "4" or frame[1:] in ("", "probe")


class EngineLog(logging.LoggerAdapter):  # type: ignore[type-arg]
    """python-engineio's logger. It reports a client's malformed long-polling payload as
    an exception (a ``ValueError``) with its traceback: here that is one warning line and
    a count; any other exception keeps its traceback. Its info lines hold message bodies,
    which never reach Telemed's log."""

    def __init__(self, refused: Refusals) -> None:
        super().__init__(logging.getLogger("telemed.realtime.engine"))
        self._refused = refused

    def isEnabledFor(self, level: int) -> bool:
        return level >= logging.WARNING and self.logger.isEnabledFor(level)

    def exception(self, msg: object, *args: object, **kwargs: Any) -> None:
        error = sys.exc_info()[1]
        if isinstance(error, ValueError):
            self._refused("engine")
            self.warning("refused a malformed Engine.IO payload (%s)", type(error).__name__)
            return
        super().exception(msg, *args, **kwargs)


class WireServer(socketio.AsyncServer):  # type: ignore[misc]
    """The Socket.IO server, acting on what ``TelemedPacket`` and ``GuardedWebSocket``
    refuse, and keeping client events apart from the transport's lifecycle."""

    def __init__(self, *, refused: Refusals, **options: Any) -> None:
        self._count_refusal = refused
        super().__init__(
            serializer=TelemedPacket,
            json=StrictJson,
            engineio_logger=EngineLog(self._refused),
            **options,
        )
        # python-engineio builds each connection's websocket from its driver table.
        guarded = functools.partial(GuardedWebSocket, refused=self._refused)
        self.eio._async = {**self.eio._async, "websocket": guarded}
        self._bad_frames: Counter[str] = Counter()
        # The tasks handling a client's message or event right now (python-socketio runs
        # each in a task of its own and does not wait for them when it shuts down).
        self._handling: set[asyncio.Task[Any]] = set()

    @contextlib.contextmanager
    def _handled(self) -> Iterator[None]:
        task = asyncio.current_task()
        if task is not None:
            self._handling.add(task)
        try:
            yield
        finally:
            self._handling.discard(task)

    async def shutdown(self) -> None:
        """Stop, and let the messages being handled end first: a handler still holding a
        database connection when the engine is disposed of would return it to a pool
        nobody closes any more (the connection is then collected unclosed)."""
        await super().shutdown()
        await asyncio.sleep(0)  # a task handed a message just now starts handling it
        running = self._handling - {asyncio.current_task()}
        if not running:
            return
        _, late = await asyncio.wait(running, timeout=HANDLER_GRACE_SECONDS)
        for task in late:
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)

    def _refused(self, reason: str) -> None:
        log.warning("refused a Socket.IO frame: %s", reason)
        self._count_refusal(reason)

    async def _handle_eio_message(self, eio_sid: str, data: str | bytes) -> None:
        with self._handled():
            try:
                await super()._handle_eio_message(eio_sid, data)
            except RefusedFrame as refusal:
                await self._refuse(eio_sid, refusal)

    async def _handle_event_internal(
        self,
        server: socketio.AsyncServer,
        sid: str,
        eio_sid: str,
        data: list[Any],
        namespace: str,
        id: int | None,
    ) -> None:
        # python-socketio hands client events to the namespace under their own name, so a
        # client's "disconnect" event would run the lifecycle handler. A reserved name from
        # a client is no event of this server (the namespace answers unknown_event).
        if data[0] in self.reserved_events:
            data = [f"client:{data[0]}", *data[1:]]
        with self._handled():
            await super()._handle_event_internal(server, sid, eio_sid, data, namespace, id)

    async def _handle_eio_disconnect(self, eio_sid: str, reason: str) -> None:
        self._bad_frames.pop(eio_sid, None)
        await super()._handle_eio_disconnect(eio_sid, reason)

    async def _refuse(self, eio_sid: str, refusal: RefusedFrame) -> None:
        self._refused(refusal.reason)
        self._bad_frames[eio_sid] += 1
        if refusal.fatal or self._bad_frames[eio_sid] >= MAX_BAD_FRAMES:
            await self._close(eio_sid)
            return
        namespace = refusal.namespace or "/"
        if refusal.ack is not None and self.manager.sid_from_eio_sid(eio_sid, namespace):
            problem = FieldProblem("message", "not a Socket.IO message of strict JSON")
            body = {"ok": False, **error_body(ValidationFailed([problem])).as_json()}
            await self._send_packet(
                eio_sid,
                self.packet_class(packet.ACK, namespace=namespace, id=refusal.ack, data=[body]),
            )

    async def _close(self, eio_sid: str) -> None:
        """Close the Engine.IO connection itself, not only its namespace.

        A Socket.IO client closes its transport when told to; a hostile one would not, so
        after the close packet the writer is ended too (the ``None`` python-engineio's own
        websocket handler queues for that), which closes the websocket.
        """
        sockets: MutableMapping[str, Any] = self.eio.sockets
        socket = sockets.get(eio_sid)
        await self.eio.disconnect(eio_sid)
        if socket is not None:
            await socket.queue.put(None)
