"""Password hashing with Argon2id, off the event loop (hashing costs tens of milliseconds)."""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher as _Argon2
from argon2.exceptions import InvalidHashError, VerificationError


class PasswordHasher:
    def __init__(self) -> None:
        self._argon2 = _Argon2()
        # Verified against when the username is unknown, so that a wrong username costs
        # the same time as a wrong password and the two cannot be told apart.
        self._dummy_hash = self._argon2.hash("telemed-no-such-user")

    async def hash(self, password: str) -> str:
        return await asyncio.to_thread(self._argon2.hash, password)

    async def verify(self, password_hash: str | None, password: str) -> bool:
        return await asyncio.to_thread(self._verify, password_hash, password)

    def _verify(self, password_hash: str | None, password: str) -> bool:
        try:
            return self._argon2.verify(password_hash or self._dummy_hash, password) and (
                password_hash is not None
            )
        except (VerificationError, InvalidHashError):
            return False
