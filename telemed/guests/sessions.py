"""A guest's session: what ``AuthService`` asks about a token it does not know."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from telemed.accounts.principal import GuestRole, Principal
from telemed.clock import Clock
from telemed.guests.models import GuestInvite
from telemed.guests.repository import GuestRepository


def guest_principal(invite: GuestInvite) -> Principal:
    """A redeemed invitation's guest: the ``guest`` role, one case, no account."""
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


class GuestSessions:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    async def principal(self, db: AsyncSession, token_hash: str) -> Principal | None:
        invite = await GuestRepository(db).by_session(token_hash)
        if invite is None or invite.session_expires_at is None:
            return None
        if self._clock.now() >= invite.session_expires_at:
            return None
        return guest_principal(invite)

    async def end(self, db: AsyncSession, token_hash: str) -> None:
        invite = await GuestRepository(db).by_session(token_hash)
        if invite is not None:
            invite.session_hash = None
