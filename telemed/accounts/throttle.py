"""Sign-in throttling: which counters an attempt is charged to, reserved before hashing.

Each attempt is counted *before* its password is verified, in one statement per counter
that also checks the limit (see ``LoginFailureRepository.reserve``), so simultaneous
guesses cannot all slip past a check made before any of them was counted, however many
server processes share the database. A success hands its reservation back; a failure is
also counted on its own (``<key>|failed``), which tells a counter locked by failures
(refused at once) from one full of attempts still being verified (waited for).

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
from telemed.db.batches import serialize_writes
from telemed.errors import TooManyAttempts

MAX_DELAY_SECONDS = 5.0
MAX_WAIT_SECONDS = 5.0


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
        TooManyAttempts when one is at its limit. Returns the pacing counter's count.

        A counter at its limit only because attempts are still being verified (their
        password may be right, and they hand their place back) is waited for, up to
        ``MAX_WAIT_SECONDS``; one at its limit of failures refuses at once."""
        pause, waited = 0.05, 0.0
        while True:
            try:
                return await self._reserve_once(attempt)
            except _Full as full:
                if full.locked or waited >= MAX_WAIT_SECONDS:
                    raise TooManyAttempts(retry_after=full.retry_after) from None
            await self._clock.sleep(pause)
            waited += pause
            pause = min(pause * 2, 1.0)

    async def _reserve_once(self, attempt: Attempt) -> int:
        now = self._clock.now()
        window = timedelta(seconds=self._policy.window)
        counts: dict[str, int] = {}
        async with self._sessionmaker() as db, db.begin():
            # Several counters' rows are locked: see serialize_writes.
            await serialize_writes(db)
            repository = LoginFailureRepository(db)
            # Always in the same order, so that two transactions never wait on each other.
            for counter in sorted(attempt.counters, key=lambda c: c.key):
                count = await repository.reserve(counter.key, counter.limit, now, now - window)
                if count is not None:
                    counts[counter.key] = count
                    continue
                # Raising rolls back what this attempt already counted.
                assert counter.limit is not None
                failed = await repository.count(_failed(counter.key), now - window)
                started = await repository.window_started_at(counter.key)
                retry_after = max(1, int(((started or now) + window - now).total_seconds()))
                raise _Full(failed >= counter.limit, retry_after)
        return counts[attempt.paced_by]

    async def succeeded(self, db: AsyncSession, attempt: Attempt) -> None:
        """Within the sign-in's transaction: the attempt was no failure."""
        repository = LoginFailureRepository(db)
        for counter in sorted(attempt.counters, key=lambda c: c.key):
            if counter.cleared_by_success:
                await repository.clear(counter.key)
                await repository.clear(_failed(counter.key))
            else:
                await repository.give_back(counter.key)

    async def failed(self, attempt: Attempt, count: int) -> None:
        """The attempt was a failure: it stays counted, is recorded as a failure, and is
        answered later each time from the ``slowdown_after``-th on."""
        now = self._clock.now()
        expired_before = now - timedelta(seconds=self._policy.window)
        async with self._sessionmaker() as db, db.begin():
            # Several counters' rows are locked: see serialize_writes.
            await serialize_writes(db)
            repository = LoginFailureRepository(db)
            for counter in sorted(attempt.counters, key=lambda c: c.key):
                if counter.limit is not None:
                    await repository.reserve(_failed(counter.key), None, now, expired_before)
        if count >= self._policy.slowdown_after:
            steps = count - self._policy.slowdown_after + 1
            await self._clock.sleep(min(self._policy.slowdown_seconds * steps, MAX_DELAY_SECONDS))


class _Full(Exception):
    def __init__(self, locked: bool, retry_after: int) -> None:
        super().__init__()
        self.locked = locked  # by failures, not by attempts still being verified
        self.retry_after = retry_after


def _failed(key: str) -> str:
    """The row counting the failures alone among a counter's attempts."""
    return f"{key}|failed"
