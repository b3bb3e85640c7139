"""Sign-in, sessions and sign-out: the rules and their transactions."""

from __future__ import annotations

import hashlib
import secrets
import weakref
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from telemed.accounts.devices import KnownDevices
from telemed.accounts.models import AuthSession, User
from telemed.accounts.passwords import PasswordHasher
from telemed.accounts.principal import Actor, CouncilSeat, FacilityRef, Principal
from telemed.accounts.repository import AccountRepository, SessionRepository
from telemed.accounts.throttle import LoginThrottle
from telemed.audit.log import AuditEntry, Outcome
from telemed.audit.work import AuditedWork
from telemed.clock import Clock
from telemed.errors import (
    AuthenticationRequired,
    Forbidden,
    InvalidCredentials,
    TooManyAttempts,
    WrongPassword,
)


class GuestSessions(Protocol):
    """Sessions of guests invited to one call (they have no account; see signaling)."""

    async def principal(self, db: AsyncSession, token_hash: str) -> Principal | None: ...

    async def end(self, db: AsyncSession, token_hash: str) -> None: ...


@dataclass(frozen=True)
class SessionPolicy:
    idle_timeout: int = 30 * 60
    lifetime: int = 12 * 3600


@dataclass(frozen=True)
class LoginResult:
    token: str
    csrf_token: str
    principal: Principal
    # A new known-device cookie for the browser that signed in (none for guests).
    device_cookie: str | None = None


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def load_principal(
    accounts: AccountRepository, user: User, session: AuthSession | None = None
) -> Principal:
    memberships = await accounts.memberships(user.id)
    facility = user.facility
    return Principal(
        user_id=user.id,
        username=user.username,
        full_name=user.full_name,
        role=user.role,
        facility=FacilityRef(facility.id, facility.code, facility.name, facility.level.value)
        if facility
        else None,
        councils=tuple(
            CouncilSeat(m.council_id, m.council.code, m.council.name, m.council_role, m.specialty)
            for m in memberships
        ),
        session_id=session.token_hash if session else "",
        csrf_token=session.csrf_token if session else "",
        stepped_up_at=session.stepped_up_at if session else None,
    )


class AuthService:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        clock: Clock,
        hasher: PasswordHasher,
        sessions: SessionPolicy,
        throttle: LoginThrottle,
        devices: KnownDevices,
        work: AuditedWork,
        guests: GuestSessions | None = None,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._work = work
        self._guests = guests
        self._clock = clock
        self._hasher = hasher
        self._sessions = sessions
        self._throttle = throttle
        self._devices = devices
        # The principal of each session while anything holds it: every socket of a session
        # (a user's tabs and devices) shares one object instead of a copy per connection.
        self._principals: weakref.WeakValueDictionary[str, Principal] = (
            weakref.WeakValueDictionary()
        )

    async def login(
        self, username: str, password: str, actor: Actor, device_cookie: str | None = None
    ) -> LoginResult:
        """Sign in. ``actor`` is the anonymous caller (address, request id, the username
        tried); every attempt is audited, a refusal as ``auth.login_failed`` (denied).
        ``device_cookie`` is the caller's known-device cookie for this account, if any."""
        device = self._devices.recognise(username, device_cookie)
        attempt = self._throttle.attempt(username, actor.address, device)
        try:
            count = await self._throttle.reserve(attempt)
        except TooManyAttempts:
            await self._record_refusal(actor)
            raise

        async with self._sessionmaker() as db, db.begin():
            user = await AccountRepository(db).user_by_username(username)
            password_hash = user.password_hash if user and user.is_active else None
        # Verified outside the transaction: hashing takes tens of milliseconds and must not
        # hold the database's write lock.
        if not await self._hasher.verify(password_hash, password):
            await self._record_refusal(actor)
            await self._throttle.failed(attempt, count)
            raise InvalidCredentials()

        assert user is not None
        token = secrets.token_urlsafe(32)
        csrf_token = secrets.token_urlsafe(32)
        now = self._clock.now()
        async with self._work(actor, "auth.login") as unit:
            db = unit.db
            await self._throttle.succeeded(db, attempt)
            sessions = SessionRepository(db)
            await sessions.delete_expired(now, now - timedelta(seconds=self._sessions.idle_timeout))
            auth_session = AuthSession(
                token_hash=hash_token(token),
                user_id=user.id,
                csrf_token=csrf_token,
                created_at=now,
                last_seen_at=now,
                expires_at=now + timedelta(seconds=self._sessions.lifetime),
            )
            sessions.add(auth_session)
            accounts = AccountRepository(db)
            fresh = await accounts.user_by_id(user.id)
            assert fresh is not None
            principal = await load_principal(accounts, fresh, auth_session)
            unit.actor = Actor(principal, actor.address, actor.request_id)
        return LoginResult(token, csrf_token, principal, self._devices.issue(username))

    async def authenticate(self, token: str, *, touch: bool = True) -> Principal:
        """The principal behind a session token; refuses unknown, expired and disabled.

        ``touch`` counts this as the user's activity (it keeps the session from idling
        out); background checks pass False, or an open socket would keep it alive forever.
        """
        now = self._clock.now()
        async with self._sessionmaker() as db, db.begin():
            sessions = SessionRepository(db)
            found = await sessions.with_user(hash_token(token))
            if found is None:
                guests = self._guests
                guest = await guests.principal(db, hash_token(token)) if guests else None
                if guest is None:
                    raise AuthenticationRequired()
                return self._shared(guest)
            auth_session, user = found
            accounts = AccountRepository(db)
            idle = now - auth_session.last_seen_at
            if (
                user is None
                or not user.is_active
                or now >= auth_session.expires_at
                or idle >= timedelta(seconds=self._sessions.idle_timeout)
            ):
                # Deleted for good: the transaction commits before the refusal is raised
                # (raising inside it would roll the deletion back).
                await sessions.delete(auth_session.token_hash)
            else:
                # Refreshing last_seen on every request would make every read a write; a
                # resolution of a tenth of the idle timeout (at most a minute) is plenty.
                if touch and idle >= timedelta(seconds=min(60, self._sessions.idle_timeout / 10)):
                    auth_session.last_seen_at = now
                return self._shared(await load_principal(accounts, user, auth_session))
        raise AuthenticationRequired("Your session has ended. Sign in again.")

    def _shared(self, principal: Principal) -> Principal:
        """The session's principal already held elsewhere if it is still the same (equal in
        every field), else ``principal``, which the session's next callers then share."""
        if not principal.session_id:
            return principal
        held = self._principals.get(principal.session_id)
        if held is not None and held == principal:
            return held
        self._principals[principal.session_id] = principal
        return principal

    async def logout(self, actor: Actor) -> None:
        """End the session: its token stops working as cookie and as bearer alike."""
        async with self._work(actor, "auth.logout") as unit:
            await SessionRepository(unit.db).delete(actor.user.session_id)
            if self._guests is not None and actor.user.is_guest:
                await self._guests.end(unit.db, actor.user.session_id)

    async def step_up(self, actor: Actor, password: str) -> datetime:
        """The signed-in user re-enters their password: the session is stamped with now,
        which a signature requires to be recent. A wrong password counts against the
        sign-in throttle like a failed sign-in (the account's and the address's counters)
        and is audited as ``auth.step_up_failed``; the session stays."""
        principal = actor.user
        if principal.is_guest:
            raise Forbidden("A guest has no password to confirm.")
        attempt = self._throttle.attempt(principal.username, actor.address, None)
        try:
            count = await self._throttle.reserve(attempt)
        except TooManyAttempts:
            await self._record_refusal(actor, "auth.step_up_failed")
            raise
        async with self._sessionmaker() as db, db.begin():
            user = await AccountRepository(db).user_by_id(principal.user_id)
            password_hash = user.password_hash if user and user.is_active else None
        # Verified outside the transaction, as at sign-in.
        if not await self._hasher.verify(password_hash, password):
            await self._record_refusal(actor, "auth.step_up_failed")
            await self._throttle.failed(attempt, count)
            raise WrongPassword("The password is wrong.")
        now = self._clock.now()
        async with self._work(actor, "auth.step_up") as unit:
            await self._throttle.succeeded(unit.db, attempt)
            auth_session = await SessionRepository(unit.db).get(principal.session_id)
            if auth_session is None:
                raise AuthenticationRequired("Your session has ended. Sign in again.")
            auth_session.stepped_up_at = now
        return now

    async def _record_refusal(self, actor: Actor, action: str = "auth.login_failed") -> None:
        # Never the password: the row names the account tried, the address and the request.
        await self._work.record_alone(actor, AuditEntry(action), Outcome.DENIED)
