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

from telemed.accounts.auth import LoginResult, hash_token
from telemed.accounts.principal import Actor
from telemed.audit.work import AuditedWork
from telemed.cases import access
from telemed.cases.log import CaseLog
from telemed.cases.repository import CaseRepository
from telemed.cases.workflow import INVITE_STATUSES
from telemed.clock import Clock
from telemed.errors import Conflict, NotFound
from telemed.guests.models import GuestInvite
from telemed.guests.repository import GuestRepository
from telemed.guests.schemas import InviteInput
from telemed.guests.sessions import guest_principal
from telemed.shapes import Json, iso

INVITABLE = INVITE_STATUSES
INVALID = "This invitation is not valid: it was used, has expired or never existed."


@dataclass(frozen=True)
class Invitation:
    token: str
    case_id: int
    expires_at: datetime


def invitation_json(invite: GuestInvite, now: datetime) -> Json:
    """An invitation as the room lists it; never its token (only its hash is stored)."""
    if invite.revoked_at is not None:
        state = "revoked"
    elif invite.redeemed_at is not None:
        state = "used"
    elif now >= invite.expires_at:
        state = "expired"
    else:
        state = "pending"
    return {
        "id": invite.id,
        "guest_id": -invite.id,
        "name": invite.name,
        "specialty": invite.specialty,
        "created_at": iso(invite.created_at),
        "expires_at": iso(invite.expires_at),
        "redeemed_at": iso(invite.redeemed_at),
        "revoked_at": iso(invite.revoked_at),
        "state": state,
    }


class GuestService:
    def __init__(
        self, case_log: CaseLog, work: AuditedWork, clock: Clock, session_lifetime: int
    ) -> None:
        self._log = case_log
        self._work = work
        self._clock = clock
        self._session_lifetime = session_lifetime

    async def invite(self, actor: Actor, case_id: int, new: InviteInput) -> Invitation:
        async with self._log.change(actor, "guest.invite", case_id) as change:
            case = change.case
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
            guests = GuestRepository(change.unit.db)
            guests.add(invite)
            await guests.flush()
            change.unit.entry.object_id = str(invite.id)
            guest = {"id": -invite.id, "name": invite.name, "specialty": invite.specialty}
            await change.append(
                "guest.invited", {"guest": guest, "expires_at": iso(invite.expires_at)}
            )
        return Invitation(token, case_id, invite.expires_at)

    async def invitations(self, actor: Actor, case_id: int) -> list[Json]:
        """Who is invited to the case, oldest first (the chair or secretary)."""
        async with self._work(actor, "guest.list", case_id=case_id) as unit:
            case = access.require_clinical(actor.user, await CaseRepository(unit.db).get(case_id))
            access.require_triage(actor.user, case)
            invites = await GuestRepository(unit.db).for_case(case.id)
            now = self._clock.now()
            return [invitation_json(invite, now) for invite in invites]

    async def revoke(self, actor: Actor, case_id: int, invite_id: int) -> Json:
        """Withdraw an invitation: its link stops working and, if it was used, the guest's
        session ends (its sockets leave at the next re-validation). Revoking twice is one."""
        async with self._log.change(
            actor, "guest.revoke", case_id, object_id=str(invite_id)
        ) as change:
            access.require_triage(actor.user, change.case)
            invite = await GuestRepository(change.unit.db).get(invite_id)
            if invite is None or invite.case_id != change.case.id:
                raise NotFound("No such invitation.")
            now = self._clock.now()
            if invite.revoked_at is None:
                invite.revoked_at, invite.session_hash = now, None
                guest = {"id": -invite.id, "name": invite.name, "specialty": invite.specialty}
                await change.append("guest.revoked", {"guest": guest})
            return invitation_json(invite, now)

    async def redeem(self, actor: Actor, token: str) -> LoginResult:
        """Exchange the link's token for a guest session; refused (404) when used or
        expired. ``actor`` is the anonymous caller."""
        async with self._work(actor, "guest.redeem") as unit:
            now = self._clock.now()
            invite = await GuestRepository(unit.db).by_token(hash_token(token))
            if invite is not None:
                unit.entry.case_id, unit.entry.object_id = invite.case_id, str(invite.id)
            if (
                invite is None
                or invite.redeemed_at is not None
                or invite.revoked_at is not None
                or now >= invite.expires_at
            ):
                raise NotFound(INVALID)
            session_token, csrf_token = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
            invite.redeemed_at = now
            invite.session_hash = hash_token(session_token)
            invite.csrf_token = csrf_token
            invite.session_expires_at = now + timedelta(seconds=self._session_lifetime)
            principal = guest_principal(invite)
            unit.actor = Actor(principal, actor.address, actor.request_id)
        return LoginResult(session_token, csrf_token, principal)
