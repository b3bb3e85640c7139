"""Finding invitations by the hashes that are all the database keeps of their tokens."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from telemed.guests.models import GuestInvite


class GuestRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    def add(self, invite: GuestInvite) -> None:
        self._session.add(invite)

    async def flush(self) -> None:
        await self._session.flush()

    async def get(self, invite_id: int) -> GuestInvite | None:
        return await self._session.get(GuestInvite, invite_id)

    async def for_case(self, case_id: int) -> Sequence[GuestInvite]:
        """The case's invitations, oldest first."""
        rows = await self._session.scalars(
            select(GuestInvite).where(GuestInvite.case_id == case_id).order_by(GuestInvite.id)
        )
        return rows.all()

    async def by_token(self, token_hash: str) -> GuestInvite | None:
        """The invitation whose link token hashes to ``token_hash``."""
        return await self._session.scalar(
            select(GuestInvite).where(GuestInvite.token_hash == token_hash)
        )

    async def by_session(self, session_hash: str) -> GuestInvite | None:
        """The invitation whose guest session token hashes to ``session_hash``."""
        return await self._session.scalar(
            select(GuestInvite).where(GuestInvite.session_hash == session_hash)
        )
