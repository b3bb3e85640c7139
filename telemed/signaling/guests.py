"""Guest specialists: a one-time link that admits someone without an account to one
case's room and call, for a limited time.

The chair (or secretary) invites; the link carries a random token of which only the
SHA-256 is stored. Redeeming it once gives the guest a session of its own (again only
its hash is stored) whose principal has the ``guest`` role and names that one case;
every other case, list and action answers as it would to a stranger.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from telemed.accounts.auth import LoginResult, hash_token
from telemed.accounts.principal import Actor, GuestRole, Principal
from telemed.audit.work import AuditedWork
from telemed.cases import access
from telemed.cases.board import iso
from telemed.cases.events import CaseEventSink
from telemed.cases.models import CaseStatus
from telemed.cases.repository import CaseRepository
from telemed.cases.schemas import Strict
from telemed.cases.service import EventWriter
from telemed.clock import Clock
from telemed.errors import Conflict, NotFound
from telemed.signaling.models import GuestInvite

INVITABLE = frozenset({CaseStatus.ACCEPTED, CaseStatus.SCHEDULED, CaseStatus.IN_SESSION})
INVALID = "This invitation is not valid: it was used, has expired or never existed."


class InviteInput(Strict):
    name: str = Field(min_length=1, max_length=200)
    specialty: str = Field(default="", max_length=100)
    # Seconds the link stays valid: from a minute to a week.
    expires_in: int = Field(default=24 * 3600, ge=60, le=7 * 24 * 3600)


class RedeemInput(Strict):
    token: str = Field(min_length=16, max_length=128)


@dataclass(frozen=True)
class Invitation:
    token: str
    case_id: int
    expires_at: datetime


def guest_principal(invite: GuestInvite) -> Principal:
    return Principal(
        user_id=-invite.id,
        username=f"guest-{invite.id}",
        full_name=invite.name,
        role=GuestRole.GUEST,
        facility=None,
        session_id=invite.session_hash or "",
        csrf_token=invite.csrf_token or "",
        guest_case_id=invite.case_id,
    )


class GuestService:
    def __init__(
        self, work: AuditedWork, clock: Clock, sink: CaseEventSink, session_lifetime: int
    ) -> None:
        self._work = work
        self._clock = clock
        self._sink = sink
        self._session_lifetime = session_lifetime

    async def invite(self, actor: Actor, case_id: int, new: InviteInput) -> Invitation:
        async with self._work(actor, "guest.invite", case_id=case_id) as unit:
            repo = CaseRepository(unit.db)
            case = access.require_clinical(actor.user, await repo.get(case_id, for_update=True))
            access.require_triage(actor.user, case)
            if case.status not in INVITABLE:
                raise Conflict(
                    f"Guests are invited to a session; the case is {case.status.value}.",
                    status=case.status.value,
                )
            token = secrets.token_urlsafe(32)
            now = self._clock.now()
            invite = GuestInvite(
                case_id=case.id,
                token_hash=hash_token(token),
                name=new.name.strip(),
                specialty=new.specialty.strip(),
                invited_by_id=actor.user.user_id,
                created_at=now,
                expires_at=now + timedelta(seconds=new.expires_in),
            )
            unit.db.add(invite)
            await unit.db.flush()
            unit.entry.object_id = str(invite.id)
            writer = EventWriter(repo, actor.user, self._clock)
            guest = {"id": -invite.id, "name": invite.name, "specialty": invite.specialty}
            await writer.append(
                case, "guest.invited", {"guest": guest, "expires_at": iso(invite.expires_at)}
            )
        await self._sink.publish(writer.events)
        return Invitation(token, case_id, invite.expires_at)

    async def redeem(self, actor: Actor, token: str) -> LoginResult:
        """Exchange the link's token for a guest session; refused (404) when used or
        expired. ``actor`` is the anonymous caller."""
        async with self._work(actor, "guest.redeem") as unit:
            now = self._clock.now()
            invite = await unit.db.scalar(
                select(GuestInvite).where(GuestInvite.token_hash == hash_token(token))
            )
            if invite is not None:
                unit.entry.case_id, unit.entry.object_id = invite.case_id, str(invite.id)
            if invite is None or invite.redeemed_at is not None or now >= invite.expires_at:
                raise NotFound(INVALID)
            session_token, csrf_token = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
            invite.redeemed_at = now
            invite.session_hash = hash_token(session_token)
            invite.csrf_token = csrf_token
            invite.session_expires_at = now + timedelta(seconds=self._session_lifetime)
            principal = guest_principal(invite)
            unit.actor = Actor(principal, actor.address, actor.request_id)
        return LoginResult(session_token, csrf_token, principal)


class GuestSessions:
    """What ``AuthService`` asks about a token it does not know: is it a guest's?"""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    async def principal(self, db: AsyncSession, token_hash: str) -> Principal | None:
        invite = await db.scalar(select(GuestInvite).where(GuestInvite.session_hash == token_hash))
        if invite is None or invite.session_expires_at is None:
            return None
        if self._clock.now() >= invite.session_expires_at:
            return None
        return guest_principal(invite)

    async def end(self, db: AsyncSession, token_hash: str) -> None:
        invite = await db.scalar(select(GuestInvite).where(GuestInvite.session_hash == token_hash))
        if invite is not None:
            invite.session_hash = None
