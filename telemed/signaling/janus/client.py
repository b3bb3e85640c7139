"""A small async client for Janus's API: sessions, plugin handles, requests and events.

A ``JanusSession`` runs two tasks while it lives: a long poll that reads the session's
events, and a keepalive (Janus forgets a session that is silent for its
``session_timeout``). A synchronous plugin request (``Handle.request``: create, destroy,
listparticipants ...) is answered in the HTTP response; an asynchronous one
(``Handle.message``: join, configure, start ...) is acknowledged at once and answered by an
event carrying the same transaction, which the poll hands to the waiting request. Every
other event of a handle (media up, hang-up, an offer Janus makes on its own) goes to the
handle's listener. Errors become ``SfuUnavailable`` or ``SfuRefused`` (errors.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from telemed.shapes import Json
from telemed.signaling.janus.errors import (
    SESSION_GONE,
    SfuRefused,
    SfuSessionGone,
    SfuUnavailable,
)

log = logging.getLogger(__name__)

VIDEOROOM = "janus.plugin.videoroom"
# How long an asynchronous request may wait for its event (Janus answers in milliseconds;
# an SDP negotiation takes a little longer on a busy machine).
EVENT_SECONDS = 15.0
RETRY_SECONDS = 1.0

EventListener = Callable[[Json], Awaitable[None]]


class JanusWire(Protocol):
    url: str

    async def post(self, path: str, body: Json) -> Json: ...

    async def get(self, path: str) -> Json: ...

    async def poll(self, session_id: int, max_events: int = 10) -> list[Json]: ...

    async def close(self) -> None: ...


@dataclass(frozen=True)
class Reply:
    """A plugin's answer: its data, and the SDP it carried (``jsep``), if any."""

    data: Json
    jsep: Json | None


def _transaction() -> str:
    return secrets.token_urlsafe(9)


def _checked(answer: Json) -> Json:
    """Janus's answer, or its error as a domain error."""
    if answer.get("janus") == "error":
        error = answer.get("error") or {}
        code, reason = int(error.get("code", 0)), str(error.get("reason", "error"))
        if code in SESSION_GONE:
            raise SfuSessionGone()
        raise SfuRefused(code, reason)
    return answer


def _plugin_reply(answer: Json) -> Reply:
    data = (answer.get("plugindata") or {}).get("data") or {}
    if "error_code" in data:
        raise SfuRefused(int(data["error_code"]), str(data.get("error", "error")))
    return Reply(data, answer.get("jsep"))


class Janus:
    """One Janus instance."""

    def __init__(self, wire: JanusWire, *, keepalive_seconds: float = 25.0) -> None:
        self.wire = wire
        self._keepalive = keepalive_seconds

    async def info(self) -> Json:
        return _checked(await self.wire.get("/info"))

    async def session(self, on_lost: Callable[[], Awaitable[None]] | None = None) -> JanusSession:
        answer = _checked(
            await self.wire.post("", {"janus": "create", "transaction": _transaction()})
        )
        session = JanusSession(self.wire, int(answer["data"]["id"]), self._keepalive, on_lost)
        session.start()
        return session

    async def close(self) -> None:
        await self.wire.close()


class JanusSession:
    def __init__(
        self,
        wire: JanusWire,
        session_id: int,
        keepalive_seconds: float,
        on_lost: Callable[[], Awaitable[None]] | None,
    ) -> None:
        self.id = session_id
        self._wire = wire
        self._keepalive_seconds = keepalive_seconds
        self._on_lost = on_lost
        self._handles: dict[int, Handle] = {}
        self._waiting: dict[str, asyncio.Future[Json]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._failing_since: float | None = None
        # Unreachable this long, the session is taken for lost (Janus's own timeout).
        self._give_up_seconds = max(keepalive_seconds * 2, 10.0)
        self._lost_task: asyncio.Task[None] | None = None
        self.lost = False

    def start(self) -> None:
        self._tasks = [
            asyncio.ensure_future(self._poll()),
            asyncio.ensure_future(self._keepalives()),
        ]

    @property
    def path(self) -> str:
        return f"/{self.id}"

    async def attach(self, listener: EventListener, plugin: str = VIDEOROOM) -> Handle:
        self._alive()
        body = {"janus": "attach", "plugin": plugin, "transaction": _transaction()}
        answer = _checked(await self._wire.post(self.path, body))
        handle = Handle(self, int(answer["data"]["id"]), listener)
        self._handles[handle.id] = handle
        return handle

    async def post(self, path: str, body: Json) -> Json:
        self._alive()
        return _checked(await self._wire.post(path, body))

    async def wait_event(self, transaction: str, send: Awaitable[Json]) -> Json:
        """Sends an asynchronous request and returns the event that answers it."""
        future: asyncio.Future[Json] = asyncio.get_running_loop().create_future()
        self._waiting[transaction] = future
        try:
            answer = await send
            if answer.get("janus") != "ack":
                # Some requests (and every refusal) are answered at once.
                return answer
            return await asyncio.wait_for(future, EVENT_SECONDS)
        except TimeoutError as error:
            raise SfuUnavailable("The video server did not answer in time.") from error
        finally:
            self._waiting.pop(transaction, None)

    def forget(self, handle: Handle) -> None:
        self._handles.pop(handle.id, None)

    async def destroy(self) -> None:
        """The session ends: Janus detaches every handle (the room's peers hang up)."""
        if not self.lost:
            with contextlib.suppress(SfuUnavailable, SfuRefused):
                body = {"janus": "destroy", "transaction": _transaction()}
                await self.post(self.path, body)
        await self._stop()

    async def _stop(self) -> None:
        self.lost = True
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._fail_waiting()

    def _alive(self) -> None:
        if self.lost:
            raise SfuUnavailable("The video server session ended.")

    async def _poll(self) -> None:
        while True:
            try:
                for event in await self._wire.poll(self.id):
                    await self._dispatch(_checked(event))
            except SfuUnavailable:
                if await self._gone():
                    return
                await asyncio.sleep(RETRY_SECONDS)
            except SfuRefused as error:
                log.warning("janus refused the event poll: %s", error.janus_code)
                await asyncio.sleep(RETRY_SECONDS)

    async def _keepalives(self) -> None:
        while True:
            await asyncio.sleep(self._keepalive_seconds)
            if await self._gone():
                return

    async def _gone(self) -> bool:
        """A keepalive: is the session gone for good? It is when Janus says it no longer
        knows it, or when Janus stayed unreachable past the session timeout (by then it
        has forgotten the session anyway)."""
        if self.lost:
            return True
        try:
            await self.post(self.path, {"janus": "keepalive", "transaction": _transaction()})
        except SfuSessionGone:
            pass
        except SfuUnavailable:
            now = time.monotonic()
            if self._failing_since is None:
                self._failing_since = now
            if now - self._failing_since < self._give_up_seconds:
                return False
        except SfuRefused as error:
            log.warning("janus refused a keepalive: %s", error.janus_code)
            return False
        else:
            self._failing_since = None
            return False
        log.warning("a janus session was lost")
        self.lost = True
        self._fail_waiting()
        if self._on_lost is not None:
            self._lost_task = asyncio.ensure_future(self._on_lost())
        return True

    def _fail_waiting(self) -> None:
        for future in self._waiting.values():
            if not future.done():
                future.set_exception(SfuUnavailable("The video server session ended."))

    async def _dispatch(self, event: Json) -> None:
        transaction = event.get("transaction")
        waiting = self._waiting.get(transaction) if isinstance(transaction, str) else None
        if waiting is not None and event.get("janus") == "event" and not waiting.done():
            waiting.set_result(event)
            return
        handle = self._handles.get(int(event.get("sender") or 0))
        if handle is None:
            return
        try:
            await handle.listener(event)
        except Exception:
            log.exception("a janus event listener failed")


class Handle:
    """One attachment to a plugin (a publisher's or a subscriber's in the VideoRoom)."""

    def __init__(self, session: JanusSession, handle_id: int, listener: EventListener) -> None:
        self.session = session
        self.id = handle_id
        self.listener = listener
        self.detached = False

    @property
    def path(self) -> str:
        return f"/{self.session.id}/{self.id}"

    async def request(self, body: Json) -> Reply:
        """A synchronous plugin request, answered in the response."""
        message = {"janus": "message", "transaction": _transaction(), "body": body}
        return _plugin_reply(await self.session.post(self.path, message))

    async def message(self, body: Json, jsep: Json | None = None) -> Reply:
        """An asynchronous plugin request: the event that answers it (and its SDP)."""
        transaction = _transaction()
        message: Json = {"janus": "message", "transaction": transaction, "body": body}
        if jsep is not None:
            message["jsep"] = jsep
        event = await self.session.wait_event(transaction, self.session.post(self.path, message))
        return _plugin_reply(_checked(event))

    async def trickle(self, candidate: Json | None) -> None:
        """A candidate of the browser's, or ``None`` when it has no more."""
        body: Json = {"janus": "trickle", "transaction": _transaction()}
        body["candidate"] = candidate if candidate is not None else {"completed": True}
        await self.session.post(self.path, body)

    async def detach(self) -> None:
        """Hangs up this handle's PeerConnection and forgets it."""
        if self.detached:
            return
        self.detached = True
        self.session.forget(self)
        if not self.session.lost:
            with contextlib.suppress(SfuUnavailable, SfuRefused):
                await self.session.post(
                    self.path, {"janus": "detach", "transaction": _transaction()}
                )
