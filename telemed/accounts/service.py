"""Users, their council seats and their passwords: the rules the administration pages, the
CLI and the demo network share. Every change is an audited unit of work naming who made
it (an administrator, or the operator of the ``telemed`` command)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from telemed.accounts.models import Council, CouncilMembership, CouncilRole, User, UserRole
from telemed.accounts.password_policy import password_problems
from telemed.accounts.passwords import PasswordHasher
from telemed.accounts.principal import Actor
from telemed.accounts.repository import AccountRepository, SessionRepository
from telemed.accounts.schemas import PasswordChange, UserUpdate
from telemed.accounts.shapes import user_json
from telemed.audit.log import AuditEntry
from telemed.audit.service import require_admin_or_operator
from telemed.audit.work import AuditedWork, Unit
from telemed.clock import Clock
from telemed.errors import (
    AlreadyExists,
    AuthenticationRequired,
    Conflict,
    FieldProblem,
    Forbidden,
    NotFound,
    ValidationFailed,
    WrongPassword,
)
from telemed.shapes import Json

# A user is named by id (the API's paths) or by username (the CLI).
UserRef = int | str
# A council is named by id (the API's paths) or by code (the CLI).
CouncilRef = int | str


@dataclass(frozen=True)
class Seat:
    council_code: str
    council_role: CouncilRole = CouncilRole.MEMBER
    specialty: str = ""


@dataclass(frozen=True)
class NewUser:
    username: str
    full_name: str
    role: UserRole
    password: str
    facility_code: str | None = None
    seat: Seat | None = None
    email: str | None = None


class Administration:
    """The audited units of work only administrators may do, with the accounts they read."""

    def __init__(self, work: AuditedWork) -> None:
        self._work = work

    @asynccontextmanager
    async def __call__(
        self, actor: Actor, action: str, object_id: str | None = None
    ) -> AsyncIterator[tuple[Unit, AccountRepository]]:
        async with self._work(actor, action, object_id=object_id) as unit:
            require_admin_or_operator(actor, "Only administrators manage accounts.")
            yield unit, AccountRepository(unit.db)


def problem(field: str, message: str, code: str) -> ValidationFailed:
    return ValidationFailed([FieldProblem(field, message, code)])


async def find_user(accounts: AccountRepository, who: UserRef) -> User:
    user = (
        await accounts.user_by_id(who)
        if isinstance(who, int)
        else await accounts.user_by_username(who)
    )
    if user is None:
        # An id is not echoed: an id out of range must be answered like a missing one.
        raise NotFound("No such user." if isinstance(who, int) else f"No user {who!r}.")
    return user


async def find_council(accounts: AccountRepository, which: CouncilRef) -> Council:
    council = (
        await accounts.council_by_id(which)
        if isinstance(which, int)
        else await accounts.council_by_code(which)
    )
    if council is None:
        raise NotFound("No such council." if isinstance(which, int) else f"No council {which!r}.")
    return council


async def facility_id_of(accounts: AccountRepository, code: str | None) -> int | None:
    if code is None:
        return None
    facility = await accounts.facility_by_code(code)
    if facility is None:
        raise problem("facility", f"no facility {code!r}", "unknown_facility")
    return facility.id


def _role_problems(role: UserRole, facility_id: int | None) -> list[FieldProblem]:
    if role is UserRole.DISTRICT_DOCTOR and facility_id is None:
        return [
            FieldProblem("facility", "a district doctor belongs to a facility", "facility_required")
        ]
    return []


class AccountService:
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
        self._admin = Administration(work)

    async def users(self, actor: Actor) -> list[Json]:
        async with self._admin(actor, "user.list") as (_, accounts):
            seats: dict[int, list[CouncilMembership]] = {}
            for membership in await accounts.all_memberships():
                seats.setdefault(membership.user_id, []).append(membership)
            return [user_json(u, seats.get(u.id, ())) for u in await accounts.users()]

    async def add_user(self, actor: Actor, new: NewUser, *, exist_ok: bool = False) -> Json:
        """Create the account (and its council seat, if any) in one unit of work."""
        if exist_ok:
            # Nothing changes for an existing account, so nothing is recorded either.
            async with self._sessionmaker() as db, db.begin():
                accounts = AccountRepository(db)
                existing = await accounts.user_by_username(new.username)
                if existing is not None:
                    return user_json(existing, await accounts.memberships(existing.id))
        problems = _new_user_problems(new)
        # Hashed before the transaction: hashing takes tens of milliseconds.
        password_hash = None if problems else await self._hasher.hash(new.password)
        async with self._admin(actor, "user.create", new.username) as (unit, accounts):
            if problems:
                raise ValidationFailed(problems)
            assert password_hash is not None
            accounts = AccountRepository(unit.db)
            facility_id = await facility_id_of(accounts, new.facility_code)
            if await accounts.user_by_username(new.username) is not None:
                raise AlreadyExists(f"The username {new.username!r} is taken.")
            council = None
            if new.seat is not None:
                if new.role is not UserRole.COUNCIL_MEMBER:
                    raise _not_council_member()
                council = await accounts.council_by_code(new.seat.council_code)
                if council is None:
                    raise problem("council", "no such council", "unknown_council")
            user = User(
                username=new.username,
                full_name=new.full_name.strip(),
                role=new.role,
                facility_id=facility_id,
                password_hash=password_hash,
                is_active=True,
                created_at=self._clock.now(),
                email=new.email,
            )
            accounts.add(user)
            await accounts.flush()
            if council is not None and new.seat is not None:
                unit.also.append(AuditEntry("council.member_set", object_id=council.code))
                accounts.add(
                    CouncilMembership(
                        council_id=council.id,
                        user_id=user.id,
                        council_role=new.seat.council_role,
                        specialty=new.seat.specialty,
                    )
                )
                await accounts.flush()
            await unit.db.refresh(user)
            return user_json(user, await accounts.memberships(user.id))

    async def update_user(self, actor: Actor, who: UserRef, update: UserUpdate) -> Json:
        """Name, role and facility. Administrators cannot change their own role, so that
        there is always one left to undo a mistake."""
        async with self._admin(actor, "user.update", str(who)) as (unit, accounts):
            user = await find_user(accounts, who)
            unit.entry.object_id = user.username
            facility_id = await facility_id_of(accounts, update.facility)
            problems = _role_problems(update.role, facility_id)
            if _is_self(actor, user) and update.role is not user.role:
                problems.append(
                    FieldProblem("role", "you cannot change your own role", "own_account")
                )
            seats = await accounts.memberships(user.id)
            if seats and update.role is not UserRole.COUNCIL_MEMBER:
                problems.append(
                    FieldProblem(
                        "role", "the user sits on a council: remove the seats first", "seated"
                    )
                )
            if problems:
                raise ValidationFailed(problems)
            user.full_name, user.role, user.facility_id = update.full_name, update.role, facility_id
            user.email = update.email
            await accounts.flush()
            await unit.db.refresh(user)
            return user_json(user, seats)

    async def disable_user(self, actor: Actor, who: UserRef) -> list[str]:
        """Disable the account and end all of its sessions at once; the ended sessions."""
        async with self._admin(actor, "user.disable", str(who)) as (unit, accounts):
            user = await find_user(accounts, who)
            unit.entry.object_id = user.username
            if _is_self(actor, user):
                raise problem("user", "you cannot disable your own account", "own_account")
            user.is_active = False
            return await SessionRepository(unit.db).delete_for_user(user.id)

    async def enable_user(self, actor: Actor, who: UserRef) -> None:
        async with self._admin(actor, "user.enable", str(who)) as (unit, accounts):
            user = await find_user(accounts, who)
            unit.entry.object_id = user.username
            user.is_active = True

    async def reset_password(self, actor: Actor, who: UserRef, password: str) -> list[str]:
        """Set a new password for someone who lost theirs; every session of theirs ends
        (but the administrator's own, when they reset their own)."""
        async with self._sessionmaker() as db, db.begin():
            accounts = AccountRepository(db)
            found = await (
                accounts.user_by_id(who) if isinstance(who, int) else accounts.user_by_username(who)
            )
            username = found.username if found else None
        problems = password_problems(password, username or "")
        # Hashed before the transaction: hashing takes tens of milliseconds.
        password_hash = None if problems else await self._hasher.hash(password)
        async with self._admin(actor, "user.password_reset", str(who)) as (unit, accounts):
            user = await find_user(accounts, who)
            unit.entry.object_id = user.username
            if problems:
                raise ValidationFailed(problems)
            if password_hash is None or user.username != username:
                raise Conflict("The account changed meanwhile; try again.")
            user.password_hash = password_hash
            keep = actor.user.session_id if _is_self(actor, user) else None
            return await SessionRepository(unit.db).delete_for_user(user.id, keep=keep)

    async def change_password(self, actor: Actor, change: PasswordChange) -> list[str]:
        """A user's own change: the current password confirms it, and every other session
        of the user ends (a stolen session does not survive the change)."""
        principal = actor.user
        async with self._sessionmaker() as db, db.begin():
            user = (
                None
                if principal.is_guest
                else await AccountRepository(db).user_by_id(principal.user_id)
            )
            current_hash = user.password_hash if user else None
        # Verified and hashed outside the transaction, as at sign-in.
        confirmed = await self._hasher.verify(current_hash, change.current_password)
        problems = password_problems(change.new_password, principal.username, "new_password")
        new_hash = None
        if confirmed and not problems:
            new_hash = await self._hasher.hash(change.new_password)
        async with self._work(actor, "user.password_change", object_id=principal.username) as unit:
            if principal.is_guest:
                raise Forbidden("Guests have no password.")
            if not confirmed:
                raise WrongPassword()
            if problems or new_hash is None:
                raise ValidationFailed(problems)
            fresh = await AccountRepository(unit.db).user_by_id(principal.user_id)
            if fresh is None or not fresh.is_active:
                raise AuthenticationRequired()
            if fresh.password_hash != current_hash:
                raise Conflict("The password was changed meanwhile.")
            fresh.password_hash = new_hash
            sessions = SessionRepository(unit.db)
            return await sessions.delete_for_user(fresh.id, keep=principal.session_id)

    async def set_membership(
        self,
        actor: Actor,
        who: UserRef,
        council_ref: CouncilRef,
        council_role: CouncilRole,
        specialty: str = "",
    ) -> None:
        """Seat the user on the council (or change the seat); object_id is the council."""
        async with self._admin(actor, "council.member_set", str(council_ref)) as (unit, accounts):
            council = await find_council(accounts, council_ref)
            unit.entry.object_id = council.code
            user = await find_user(accounts, who)
            if user.role is not UserRole.COUNCIL_MEMBER:
                raise _not_council_member()
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

    async def remove_membership(self, actor: Actor, who: UserRef, council_ref: CouncilRef) -> None:
        async with self._admin(actor, "council.member_remove", str(council_ref)) as (
            unit,
            accounts,
        ):
            council = await find_council(accounts, council_ref)
            unit.entry.object_id = council.code
            user = await find_user(accounts, who)
            membership = await accounts.membership(council.id, user.id)
            if membership is None:
                raise NotFound(f"{user.username!r} does not sit on {council.code!r}.")
            await accounts.remove_membership(membership)


def _is_self(actor: Actor, user: User) -> bool:
    return actor.principal is not None and actor.principal.user_id == user.id


def _not_council_member() -> ValidationFailed:
    return problem("role", "only council members sit on councils", "not_council_member")


def _new_user_problems(new: NewUser) -> list[FieldProblem]:
    problems: list[FieldProblem] = []
    if (
        not (1 <= len(new.username) <= 64)
        or not new.username.replace(".", "").replace("-", "").replace("_", "").isalnum()
    ):
        problems.append(
            FieldProblem("username", "1-64 letters, digits, '.', '-' or '_'", "bad_username")
        )
    if not new.full_name.strip():
        problems.append(FieldProblem("full_name", "must not be empty"))
    problems += password_problems(new.password, new.username)
    if new.role is UserRole.DISTRICT_DOCTOR and not new.facility_code:
        problems += _role_problems(new.role, None)
    return problems


__all__: Sequence[str] = [
    "AccountService",
    "Administration",
    "NewUser",
    "Seat",
    "find_council",
    "find_user",
]
