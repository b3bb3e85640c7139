"""Administration of facilities, councils and users (the CLI and the demo network use it)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from telemed.accounts.models import (
    Council,
    CouncilMembership,
    CouncilRole,
    Facility,
    FacilityLevel,
    User,
    UserRole,
)
from telemed.accounts.passwords import PasswordHasher
from telemed.accounts.principal import Actor
from telemed.accounts.repository import AccountRepository, SessionRepository
from telemed.audit.work import AuditedWork
from telemed.clock import Clock
from telemed.errors import Conflict, FieldProblem, NotFound, ValidationFailed


@dataclass(frozen=True)
class NewUser:
    username: str
    full_name: str
    role: UserRole
    password: str
    facility_code: str | None = None


class AccountService:
    """Facilities and councils are set up as reference data; every change to a user or a
    council seat is an audited unit of work naming who made it (the CLI operator)."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        clock: Clock,
        hasher: PasswordHasher,
        work: AuditedWork,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._clock = clock
        self._hasher = hasher
        self._work = work

    async def ensure_facility(self, code: str, name: str, level: FacilityLevel) -> int:
        async with self._sessionmaker() as db, db.begin():
            accounts = AccountRepository(db)
            facility = await accounts.facility_by_code(code)
            if facility is None:
                facility = Facility(code=code, name=name, level=level)
                accounts.add(facility)
            else:
                facility.name, facility.level = name, level
            await accounts.flush()
            return facility.id

    async def ensure_council(self, code: str, name: str, seat_facility_code: str) -> int:
        async with self._sessionmaker() as db, db.begin():
            accounts = AccountRepository(db)
            seat = await self._facility(accounts, seat_facility_code)
            council = await accounts.council_by_code(code)
            if council is None:
                council = Council(code=code, name=name, seat_facility_id=seat.id)
                accounts.add(council)
            else:
                council.name, council.seat_facility_id = name, seat.id
            await accounts.flush()
            return council.id

    async def add_user(self, actor: Actor, new: NewUser, *, exist_ok: bool = False) -> int:
        problems = _user_problems(new)
        if problems:
            raise ValidationFailed(problems)
        if exist_ok:
            # Nothing changes for an existing account, so nothing is recorded either.
            async with self._sessionmaker() as db, db.begin():
                existing = await AccountRepository(db).user_by_username(new.username)
                if existing is not None:
                    return existing.id
        password_hash = await self._hasher.hash(new.password)
        async with self._work(actor, "user.create", object_id=new.username) as unit:
            accounts = AccountRepository(unit.db)
            facility = (
                await self._facility(accounts, new.facility_code) if new.facility_code else None
            )
            existing = await accounts.user_by_username(new.username)
            if existing is not None:
                if not exist_ok:
                    raise Conflict(f"The username {new.username!r} is taken.")
                return existing.id
            user = User(
                username=new.username,
                full_name=new.full_name,
                role=new.role,
                facility_id=facility.id if facility else None,
                password_hash=password_hash,
                is_active=True,
                created_at=self._clock.now(),
            )
            accounts.add(user)
            await accounts.flush()
            return user.id

    async def disable_user(self, actor: Actor, username: str) -> None:
        """Disable the account and end all of its sessions at once."""
        async with self._work(actor, "user.disable", object_id=username) as unit:
            accounts = AccountRepository(unit.db)
            user = await accounts.user_by_username(username)
            if user is None:
                raise NotFound(f"No user {username!r}.")
            user.is_active = False
            await SessionRepository(unit.db).delete_for_user(user.id)

    async def set_membership(
        self,
        actor: Actor,
        username: str,
        council_code: str,
        council_role: CouncilRole,
        specialty: str = "",
    ) -> None:
        """Seat ``username`` on the council (or change the seat); object_id is the council."""
        async with self._work(actor, "council.member_set", object_id=council_code) as unit:
            accounts = AccountRepository(unit.db)
            user, council = await self._user_and_council(accounts, username, council_code)
            membership = await accounts.membership(council.id, user.id)
            if membership is None:
                accounts.add(
                    CouncilMembership(
                        council_id=council.id,
                        user_id=user.id,
                        council_role=council_role,
                        specialty=specialty,
                    )
                )
            else:
                membership.council_role, membership.specialty = council_role, specialty

    async def remove_membership(self, actor: Actor, username: str, council_code: str) -> None:
        async with self._work(actor, "council.member_remove", object_id=council_code) as unit:
            accounts = AccountRepository(unit.db)
            user, council = await self._user_and_council(accounts, username, council_code)
            membership = await accounts.membership(council.id, user.id)
            if membership is None:
                raise NotFound(f"{username!r} does not sit on {council_code!r}.")
            await accounts.remove_membership(membership)

    @staticmethod
    async def _facility(accounts: AccountRepository, code: str) -> Facility:
        facility = await accounts.facility_by_code(code)
        if facility is None:
            raise NotFound(f"No facility {code!r}.")
        return facility

    @staticmethod
    async def _user_and_council(
        accounts: AccountRepository, username: str, council_code: str
    ) -> tuple[User, Council]:
        user = await accounts.user_by_username(username)
        if user is None:
            raise NotFound(f"No user {username!r}.")
        council = await accounts.council_by_code(council_code)
        if council is None:
            raise NotFound(f"No council {council_code!r}.")
        return user, council


def _user_problems(new: NewUser) -> list[FieldProblem]:
    problems = []
    if (
        not (1 <= len(new.username) <= 64)
        or not new.username.replace(".", "").replace("-", "").replace("_", "").isalnum()
    ):
        problems.append(FieldProblem("username", "1-64 letters, digits, '.', '-' or '_'"))
    if not new.full_name.strip():
        problems.append(FieldProblem("full_name", "must not be empty"))
    if len(new.password) < 8:
        problems.append(FieldProblem("password", "at least 8 characters"))
    if new.role is UserRole.DISTRICT_DOCTOR and not new.facility_code:
        problems.append(FieldProblem("facility", "a district doctor belongs to a facility"))
    return problems
