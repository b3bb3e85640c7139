"""Sign-in throttling: which counters an attempt is charged to, reserved before hashing.

Each attempt is counted *before* its password is verified, in one statement per counter
that also checks the limit (see ``LoginFailureRepository.reserve``), so simultaneous
guesses cannot all slip past a check made before any of them was counted, however many
server processes share the database. A success hands its reservation back.

The counters (docs/security.md, "Sign-in throttling"):
- an unknown client: ``account:<name>`` (per account), ``address:<ip>`` (per address,
  across accounts) and ``pair:<name>|<ip>`` (no limit; it paces the progressive delay);
- a known device of that account (``telemed.accounts.devices``): ``device:<id>`` only, so
  an attacker who locked the account or the hospital's shared address out for unknown
  clients does not lock out the account's own browsers, while a stolen device cookie
  earns no more guesses than anyone else.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from telemed.accounts.devices import account_key
from telemed.accounts.repository import LoginFailureRepository
from telemed.clock import Clock
from telemed.errors import TooManyAttempts

MAX_DELAY_SECONDS = 5.0


@dataclass(frozen=True)
class ThrottlePolicy:
    window: int = 15 * 60
    slowdown_after: int = 3
    slowdown_seconds: float = 1.0
    max_per_account: int = 5
    max_per_address: int = 20


@dataclass(frozen=True)
class Counter:
    key: str
    limit: int | None
    # A success clears the counters about this account; the address's only gets its
    # reservation back (other people share that address).
    cleared_by_success: bool = True


@dataclass(frozen=True)
class Attempt:
    counters: tuple[Counter, ...]
    paced_by: str  # the counter whose count sets the delay after a failure


class LoginThrottle:
    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], clock: Clock, policy: ThrottlePolicy
    ) -> None:
        self._sessionmaker = sessionmaker
        self._clock = clock
        self._policy = policy

    def attempt(self, username: str, address: str, device: str | None) -> Attempt:
        """The counters of one attempt; ``device`` is the id of a known device, if any."""
        if device is not None:
            key = f"device:{device}"
            return Attempt((Counter(key, self._policy.max_per_account),), key)
        account = account_key(username)
        pair = f"pair:{account}|{address}"
        return Attempt(
            (
                Counter(f"account:{account}", self._policy.max_per_account),
                Counter(f"address:{address}", self._policy.max_per_address, False),
                Counter(pair, None),
            ),
            pair,
        )

    async def reserve(self, attempt: Attempt) -> int:
        """Count the attempt against every counter, or against none and raise
        TooManyAttempts when one is at its limit. Returns the pacing counter's count."""
        now = self._clock.now()
        window = timedelta(seconds=self._policy.window)
        counts: dict[str, int] = {}
        async with self._sessionmaker() as db, db.begin():
            failures = LoginFailureRepository(db)
            # Always in the same order, so that two transactions never wait on each other.
            for counter in sorted(attempt.counters, key=lambda c: c.key):
                count = await failures.reserve(counter.key, counter.limit, now, now - window)
                if count is None:  # raising rolls back what this attempt already counted
                    started = await failures.window_started_at(counter.key)
                    unlock_at = (started or now) + window
                    retry_after = max(1, int((unlock_at - now).total_seconds()))
                    raise TooManyAttempts(retry_after=retry_after)
                counts[counter.key] = count
        return counts[attempt.paced_by]

    async def succeeded(self, db: AsyncSession, attempt: Attempt) -> None:
        """Within the sign-in's transaction: the attempt was no failure."""
        failures = LoginFailureRepository(db)
        for counter in sorted(attempt.counters, key=lambda c: c.key):
            if counter.cleared_by_success:
                await failures.clear(counter.key)
            else:
                await failures.give_back(counter.key)

    async def failed(self, count: int) -> None:
        """Answer the n-th failure in a row later each time, from ``slowdown_after`` on."""
        if count >= self._policy.slowdown_after:
            steps = count - self._policy.slowdown_after + 1
            await self._clock.sleep(min(self._policy.slowdown_seconds * steps, MAX_DELAY_SECONDS))
