"""Facilities and councils: the reference data cases point at, kept by administrators.

``ensure_*`` set the demo network up (reference data, not recorded, as a migration is
not); every change made by an administrator is an audited unit of work.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from telemed.accounts.models import Council, CouncilMembership, Facility, FacilityLevel, User
from telemed.accounts.principal import Actor
from telemed.accounts.repository import AccountRepository
from telemed.accounts.schemas import CouncilInput, CouncilUpdate, FacilityInput, FacilityUpdate
from telemed.accounts.service import Administration, CouncilRef, find_council, problem
from telemed.accounts.shapes import council_json, facility_json, member_json
from telemed.audit.work import AuditedWork
from telemed.errors import AlreadyExists, NotFound
from telemed.shapes import Json


async def _seat(accounts: AccountRepository, code: str) -> Facility:
    facility = await accounts.facility_by_code(code)
    if facility is None:
        raise problem("seat_facility", f"no facility {code!r}", "unknown_facility")
    return facility


class OrganisationService:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], work: AuditedWork) -> None:
        self._sessionmaker = sessionmaker
        self._admin = Administration(work)

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
            seat = await accounts.facility_by_code(seat_facility_code)
            if seat is None:
                raise NotFound(f"No facility {seat_facility_code!r}.")
            council = await accounts.council_by_code(code)
            if council is None:
                council = Council(code=code, name=name, seat_facility_id=seat.id)
                accounts.add(council)
            else:
                council.name, council.seat_facility_id = name, seat.id
            await accounts.flush()
            return council.id

    async def facilities(self, actor: Actor) -> list[Json]:
        async with self._admin(actor, "facility.list") as (_, accounts):
            return [facility_json(f) for f in await accounts.facilities()]

    async def create_facility(self, actor: Actor, new: FacilityInput) -> Json:
        async with self._admin(actor, "facility.create", new.code) as (_, accounts):
            if await accounts.facility_by_code(new.code) is not None:
                raise AlreadyExists(f"The facility code {new.code!r} is taken.")
            facility = Facility(code=new.code, name=new.name, level=new.level)
            accounts.add(facility)
            await accounts.flush()
            return facility_json(facility)

    async def update_facility(self, actor: Actor, facility_id: int, update: FacilityUpdate) -> Json:
        async with self._admin(actor, "facility.update", str(facility_id)) as (unit, accounts):
            facility = await accounts.facility_by_id(facility_id)
            if facility is None:
                raise NotFound("No such facility.")
            unit.entry.object_id = facility.code
            facility.name, facility.level = update.name, update.level
            return facility_json(facility)

    async def councils(self, actor: Actor) -> list[Json]:
        async with self._admin(actor, "council.list") as (_, accounts):
            users = {u.id: u for u in await accounts.users()}
            members: dict[int, list[Json]] = {}
            for membership in await accounts.all_memberships():
                members.setdefault(membership.council_id, []).append(
                    member_json(membership, users[membership.user_id])
                )
            return [council_json(c, members.get(c.id, ())) for c in await accounts.councils()]

    async def create_council(self, actor: Actor, new: CouncilInput) -> Json:
        async with self._admin(actor, "council.create", new.code) as (unit, accounts):
            seat = await _seat(accounts, new.seat_facility)
            if await accounts.council_by_code(new.code) is not None:
                raise AlreadyExists(f"The council code {new.code!r} is taken.")
            council = Council(code=new.code, name=new.name, seat_facility_id=seat.id)
            accounts.add(council)
            await accounts.flush()
            await unit.db.refresh(council)
            return council_json(council)

    async def update_council(self, actor: Actor, council_id: int, update: CouncilUpdate) -> Json:
        async with self._admin(actor, "council.update", str(council_id)) as (unit, accounts):
            council = await find_council(accounts, council_id)
            unit.entry.object_id = council.code
            seat = await _seat(accounts, update.seat_facility)
            council.name, council.seat_facility_id = update.name, seat.id
            await accounts.flush()
            await unit.db.refresh(council)
            return await self._with_members(accounts, council)

    async def _with_members(self, accounts: AccountRepository, council: Council) -> Json:
        seated: list[tuple[CouncilMembership, User]] = []
        for membership in await accounts.all_memberships():
            if membership.council_id == council.id:
                user = await accounts.user_by_id(membership.user_id)
                assert user is not None
                seated.append((membership, user))
        return council_json(council, (member_json(m, u) for m, u in seated))


__all__ = ["CouncilRef", "OrganisationService"]
