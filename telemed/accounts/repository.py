"""Queries for accounts, organisations, sessions and sign-in failures."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import case, delete, literal, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from telemed.accounts.models import (
    AuthSession,
    Council,
    CouncilMembership,
    Facility,
    LoginFailures,
    User,
)


class AccountRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def user_by_username(self, username: str) -> User | None:
        return await self._session.scalar(select(User).where(User.username == username))

    async def user_by_id(self, user_id: int) -> User | None:
        return await self._session.get(User, user_id)

    async def memberships(self, user_id: int) -> Sequence[CouncilMembership]:
        rows = await self._session.scalars(
            select(CouncilMembership)
            .where(CouncilMembership.user_id == user_id)
            .order_by(CouncilMembership.council_id)
        )
        return rows.all()

    async def membership(self, council_id: int, user_id: int) -> CouncilMembership | None:
        return await self._session.get(CouncilMembership, (council_id, user_id))

    async def users(self) -> Sequence[User]:
        rows = await self._session.scalars(select(User).order_by(User.username))
        return rows.all()

    async def all_memberships(self) -> Sequence[CouncilMembership]:
        rows = await self._session.scalars(
            select(CouncilMembership).order_by(
                CouncilMembership.council_id, CouncilMembership.user_id
            )
        )
        return rows.all()

    async def facilities(self) -> Sequence[Facility]:
        rows = await self._session.scalars(select(Facility).order_by(Facility.code))
        return rows.all()

    async def councils(self) -> Sequence[Council]:
        rows = await self._session.scalars(select(Council).order_by(Council.code))
        return rows.all()

    async def facility_by_id(self, facility_id: int) -> Facility | None:
        return await self._session.get(Facility, facility_id)

    async def council_by_id(self, council_id: int) -> Council | None:
        return await self._session.get(Council, council_id)

    async def facility_by_code(self, code: str) -> Facility | None:
        return await self._session.scalar(select(Facility).where(Facility.code == code))

    async def council_by_code(self, code: str) -> Council | None:
        return await self._session.scalar(select(Council).where(Council.code == code))

    def add(self, entity: Facility | Council | User | CouncilMembership) -> None:
        self._session.add(entity)

    async def remove_membership(self, membership: CouncilMembership) -> None:
        await self._session.delete(membership)

    async def flush(self) -> None:
        await self._session.flush()


class SessionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    def add(self, auth_session: AuthSession) -> None:
        self._session.add(auth_session)

    async def get(self, token_hash: str) -> AuthSession | None:
        return await self._session.get(AuthSession, token_hash)

    async def with_user(self, token_hash: str) -> tuple[AuthSession, User | None] | None:
        """The session and its user (with the user's facility) in one query: every request
        and every socket checks one."""
        row = (
            await self._session.execute(
                select(AuthSession, User)
                .outerjoin(User, User.id == AuthSession.user_id)
                .where(AuthSession.token_hash == token_hash)
            )
        ).first()
        return None if row is None else (row[0], row[1])

    async def delete(self, token_hash: str) -> None:
        await self._session.execute(delete(AuthSession).where(AuthSession.token_hash == token_hash))

    async def delete_for_user(self, user_id: int, *, keep: str | None = None) -> list[str]:
        """End every session of the user (but ``keep``, a token hash); the ended hashes."""
        condition = AuthSession.user_id == user_id
        if keep is not None:
            condition = condition & (AuthSession.token_hash != keep)
        ended = await self._session.scalars(select(AuthSession.token_hash).where(condition))
        hashes = list(ended.all())
        await self._session.execute(delete(AuthSession).where(condition))
        return hashes

    async def delete_expired(self, now: datetime, idle_cutoff: datetime) -> None:
        await self._session.execute(
            delete(AuthSession).where(
                (AuthSession.expires_at <= now) | (AuthSession.last_seen_at <= idle_cutoff)
            )
        )


class LoginFailureRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def reserve(
        self, key: str, limit: int | None, now: datetime, expired_before: datetime
    ) -> int | None:
        """Count one attempt against ``key`` unless it is at ``limit`` in its window; the
        new count, or None when at the limit. One statement checks and counts: the
        database orders concurrent attempts on the row (a row lock on PostgreSQL, the
        write lock on SQLite), so no two of them see the same count."""
        failures, started = LoginFailures.failures, LoginFailures.window_started_at
        stale = started <= expired_before
        insert = (
            postgresql.insert
            if self._session.get_bind().dialect.name == "postgresql"
            else sqlite.insert
        )
        statement = (
            insert(LoginFailures)
            .values(key=key, failures=1, window_started_at=now)
            .on_conflict_do_update(
                index_elements=[LoginFailures.key],
                set_={
                    "failures": case((stale, 1), else_=failures + 1),
                    "window_started_at": case((stale, literal(now, started.type)), else_=started),
                },
                where=None if limit is None else (failures < limit) | stale,
            )
            .returning(failures)
        )
        count: int | None = await self._session.scalar(statement)
        return count

    async def count(self, key: str, expired_before: datetime) -> int:
        """The count of ``key`` in its current window (0 when none or expired)."""
        count: int | None = await self._session.scalar(
            select(LoginFailures.failures).where(
                LoginFailures.key == key, LoginFailures.window_started_at > expired_before
            )
        )
        return count or 0

    async def window_started_at(self, key: str) -> datetime | None:
        started: datetime | None = await self._session.scalar(
            select(LoginFailures.window_started_at).where(LoginFailures.key == key)
        )
        return started

    async def give_back(self, key: str) -> None:
        """Undo one reservation (an attempt that turned out not to be a failure)."""
        await self._session.execute(
            update(LoginFailures)
            .where(LoginFailures.key == key, LoginFailures.failures > 0)
            .values(failures=LoginFailures.failures - 1)
        )

    async def clear(self, key: str) -> None:
        await self._session.execute(delete(LoginFailures).where(LoginFailures.key == key))
