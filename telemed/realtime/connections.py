"""The live connections of this process: who they are, what they joined, how fast they talk."""

from __future__ import annotations

import secrets
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from http.cookies import CookieError, SimpleCookie
from typing import Any

from telemed.accounts.auth import AuthService
from telemed.accounts.principal import Actor, Principal
from telemed.errors import AuthenticationRequired
from telemed.http.auth import SESSION_COOKIE


class TokenBucket:
    """``rate`` messages a second on average, bursts of up to ``burst``.

    Rate limits measure how fast a client really sends, so the bucket reads the monotonic
    clock (not the domain clock, which tests move by hand for expiry rules).
    """

    # One per connection, for the connection's whole life: no instance dict.
    __slots__ = ("_at", "_burst", "_now", "_rate", "_tokens")

    def __init__(self, rate: float, burst: int, now: Callable[[], float] = time.monotonic) -> None:
        self._rate = rate
        self._burst = float(burst)
        self._now = now
        self._tokens = float(burst)
        self._at = now()

    def take(self) -> bool:
        current = self._now()
        self._tokens = min(self._burst, self._tokens + (current - self._at) * self._rate)
        self._at = current
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False


@dataclass(eq=False, slots=True)
class Connection:
    """One Socket.IO connection. ``principal`` is refreshed on every state-changing message
    (the auth service hands every connection of a session the same principal object).

    Slotted, as the other objects kept per idle connection: no instance dict each."""

    sid: str
    token: str
    principal: Principal
    address: str
    bucket: TokenBucket
    # Opaque and random: other participants address this connection by it (video signals),
    # so it must not reveal the Socket.IO sid or anything about the session.
    peer_id: str = field(default_factory=lambda: secrets.token_urlsafe(12))
    # The case rooms it joined, each with the number of its join (see RoomService.join).
    cases: dict[int, int] = field(default_factory=dict)
    closed: bool = False
    # Consecutive refused messages: a client that keeps flooding is disconnected.
    strikes: int = 0

    def actor(self, request_id: str) -> Actor:
        return Actor(self.principal, self.address, request_id)

    @property
    def user_room(self) -> str:
        return f"user:{self.principal.user_id}"


class Connections:
    """The registry of this process's connections, by sid and by session."""

    def __init__(self, disconnect: Callable[[str], Awaitable[None]]) -> None:
        self._by_sid: dict[str, Connection] = {}
        # How the transport drops one connection of this process.
        self._disconnect = disconnect

    def add(self, connection: Connection) -> None:
        self._by_sid[connection.sid] = connection

    def get(self, sid: str) -> Connection | None:
        return self._by_sid.get(sid)

    def pop(self, sid: str) -> Connection | None:
        return self._by_sid.pop(sid, None)

    def __iter__(self) -> Iterator[Connection]:
        return iter(list(self._by_sid.values()))

    def __len__(self) -> int:
        return len(self._by_sid)

    async def end_session(self, session_id: str) -> int:
        """Disconnect every connection of a session that just ended (sign-out)."""
        ended = [c for c in self if c.principal.session_id == session_id]
        for connection in ended:
            await self._disconnect(connection.sid)
        return len(ended)


def connection_token(environ: Mapping[str, Any], auth: object) -> str | None:
    """A connection's session token: ``auth.token`` or the browser's session cookie."""
    if isinstance(auth, dict):
        token = auth.get("token")
        if isinstance(token, str) and token:
            return token
    raw = environ.get("HTTP_COOKIE")
    if not raw:
        return None
    try:
        cookie = SimpleCookie(raw)
    except CookieError:
        return None
    morsel = cookie.get(SESSION_COOKIE)
    return morsel.value if morsel and morsel.value else None


async def authenticate_connection(
    auth_service: AuthService, environ: Mapping[str, Any], auth: object
) -> Principal:
    token = connection_token(environ, auth)
    if token is None:
        raise AuthenticationRequired()
    return await auth_service.authenticate(token)


async def reauthenticate(auth_service: AuthService, connection: Connection) -> Principal:
    """The connection's principal as it is now; refuses an ended session."""
    connection.principal = await auth_service.authenticate(connection.token)
    return connection.principal
