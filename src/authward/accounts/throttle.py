"""Attempt counting in sliding windows: logins, password changes, refreshes, sign-ups.

Every count is a list of timestamps under an opaque key in a `FailureLog` (memory, SQL or
Redis), and each entry counts for exactly `window` after it happened. The rules are in
docs/throttling.md; in short:

* logins and password changes (`LoginThrottle`): failures per (account, client address),
  `max_failures` (``AUTHWARD_LOGIN_MAX_FAILURES``) in the window, reset by a success from
  that address; and per account from every address a higher ceiling
  (``AUTHWARD_LOGIN_ACCOUNT_MAX_FAILURES``, ten times the first by default), which slows a
  distributed guesser without letting one address lock the owner out from everywhere;
* refreshes (`RefreshThrottle`): failures per client address and per presented token,
  never reset by a success (one good token must not buy an address more guesses);
* registrations (`RegistrationThrottle`): attempts per client address, whatever their
  outcome, so the count says nothing about which emails exist.

Keys are digests (of the normalised email, the address, the token): no log holds one.
"""

from __future__ import annotations

import hashlib
import logging
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from math import ceil
from typing import TYPE_CHECKING, Protocol

from sqlalchemy import Column, Index, Integer, LargeBinary, Table, delete, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from authward.clock import Clock
from authward.errors import TooManyAttempts
from authward.metrics import THROTTLED
from authward.storage.sql import UtcDateTime, metadata, translated_errors

if TYPE_CHECKING:
    from authward.settings import Settings

security_log = logging.getLogger("authward.security")


@dataclass(frozen=True, slots=True)
class ThrottlePolicy:
    max_failures: int
    account_max_failures: int
    window: timedelta
    refresh_max_failures: int = 100
    refresh_token_max_failures: int = 5
    register_max_attempts: int = 20

    @classmethod
    def of(cls, settings: Settings) -> ThrottlePolicy:
        return cls(
            max_failures=settings.login_max_failures,
            account_max_failures=settings.account_max_failures,
            window=timedelta(seconds=settings.login_window),
            refresh_max_failures=settings.refresh_max_failures,
            refresh_token_max_failures=settings.login_max_failures,
            register_max_attempts=settings.register_max_attempts,
        )


def account_key(email: str) -> bytes:
    return hashlib.sha256(b"account\x00" + email.encode("utf-8", "surrogatepass")).digest()


def pair_key(email: str, address: str) -> bytes:
    joined = email + "\x00" + address
    return hashlib.sha256(b"pair\x00" + joined.encode("utf-8", "surrogatepass")).digest()


def address_key(action: str, address: str) -> bytes:
    joined = action + "\x00address\x00" + address
    return hashlib.sha256(joined.encode("utf-8", "surrogatepass")).digest()


def token_key(token: str) -> bytes:
    return hashlib.sha256(b"refresh-token\x00" + token.encode("utf-8", "surrogatepass")).digest()


class FailureLog(Protocol):
    """Timestamps of failures under opaque keys."""

    async def record(self, keys: tuple[bytes, ...], at: datetime) -> None: ...

    async def recent(self, key: bytes, since: datetime) -> list[datetime]:
        """Failures under `key` at or after `since`, oldest first."""

    async def clear(self, key: bytes) -> None: ...

    async def prune(self, before: datetime) -> int: ...


class MemoryFailureLog:
    def __init__(self) -> None:
        self._log: dict[bytes, deque[datetime]] = {}

    async def record(self, keys: tuple[bytes, ...], at: datetime) -> None:
        for key in keys:
            self._log.setdefault(key, deque()).append(at)

    async def recent(self, key: bytes, since: datetime) -> list[datetime]:
        entries = self._log.get(key)
        if not entries:
            return []
        while entries and entries[0] < since:
            entries.popleft()
        return list(entries)

    async def clear(self, key: bytes) -> None:
        self._log.pop(key, None)

    async def prune(self, before: datetime) -> int:
        removed = 0
        for key in list(self._log):
            entries = self._log[key]
            while entries and entries[0] < before:
                entries.popleft()
                removed += 1
            if not entries:
                del self._log[key]
        return removed


login_failures = Table(
    "login_failures",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", LargeBinary(32), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Index("ix_login_failures_key_at", "key", "at"),
)


class SqlFailureLog:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def record(self, keys: tuple[bytes, ...], at: datetime) -> None:
        async with translated_errors(), self._engine.begin() as conn:
            await conn.execute(insert(login_failures), [{"key": k, "at": at} for k in keys])

    async def recent(self, key: bytes, since: datetime) -> list[datetime]:
        query = (
            select(login_failures.c.at)
            .where(login_failures.c.key == key, login_failures.c.at >= since)
            .order_by(login_failures.c.at)
        )
        async with translated_errors(), self._engine.connect() as conn:
            return list((await conn.execute(query)).scalars())

    async def clear(self, key: bytes) -> None:
        async with translated_errors(), self._engine.begin() as conn:
            await conn.execute(delete(login_failures).where(login_failures.c.key == key))

    async def prune(self, before: datetime) -> int:
        async with translated_errors(), self._engine.begin() as conn:
            result = await conn.execute(delete(login_failures).where(login_failures.c.at < before))
        return int(result.rowcount or 0)


class SlidingWindow:
    """Counts under opaque keys over one sliding window: check before the work, record after."""

    def __init__(self, log: FailureLog, window: timedelta, clock: Clock) -> None:
        self.log = log
        self.window = window
        self._clock = clock

    async def check(self, action: str, limits: tuple[tuple[bytes, int], ...]) -> list[int]:
        """Return each (key, limit) count; raise TooManyAttempts (with the wait) at a limit."""
        now = self._clock.now()
        # An entry counts for exactly `window`: from its instant up to, not including,
        # instant + window (the logs keep microseconds, so `since` starts one later).
        since = now - self.window + timedelta(microseconds=1)
        counts = []
        for key, limit in limits:
            entries = await self.log.recent(key, since)
            if len(entries) >= limit:
                THROTTLED.labels(action).inc()
                # The window slides: the wait ends when enough old entries age out.
                frees_at = entries[len(entries) - limit] + self.window
                raise TooManyAttempts(ceil((frees_at - now).total_seconds()))
            counts.append(len(entries))
        return counts

    async def record(self, *keys: bytes) -> None:
        await self.log.record(keys, self._clock.now())

    async def clear(self, key: bytes) -> None:
        await self.log.clear(key)

    async def prune(self) -> int:
        return await self.log.prune(self._clock.now() - self.window)


class LoginThrottle:
    """Say whether a login may be tried, and remember how the last ones went.

    Password changes share these counts: guessing the current password through
    ``/auth/password`` is the same oracle as a login, so it gets no budget of its own.
    """

    def __init__(self, log: FailureLog, policy: ThrottlePolicy, clock: Clock) -> None:
        self._window = SlidingWindow(log, policy.window, clock)
        self._policy = policy

    @property
    def log(self) -> FailureLog:
        return self._window.log

    async def check(self, email: str, address: str, *, action: str = "login") -> int:
        """Return the (account, address) count; raise TooManyAttempts when either is full.

        Only a success after failures needs to clear that count: a plain login, the
        common case, writes nothing here.
        """
        pair, _ = await self._window.check(
            action,
            (
                (pair_key(email, address), self._policy.max_failures),
                (account_key(email), self._policy.account_max_failures),
            ),
        )
        return pair

    async def failed(self, email: str, address: str) -> None:
        await self._window.record(pair_key(email, address), account_key(email))

    async def succeeded(self, email: str, address: str) -> None:
        await self._window.clear(pair_key(email, address))

    async def prune(self) -> int:
        """Drop entries that fell out of the window (every throttle's: they share the log)."""
        return await self._window.prune()


class RefreshThrottle:
    """Failed refreshes per client address and per presented token.

    A guesser sends a new random token each time, so only the address count can stop
    one; the token count stops a client (or a replayer) hammering one dead token. Only
    well-formed tokens get here: a malformed one is refused before any I/O and counts
    nowhere, so garbage cannot make the server write. A success resets nothing.
    """

    def __init__(self, log: FailureLog, policy: ThrottlePolicy, clock: Clock) -> None:
        self._window = SlidingWindow(log, policy.window, clock)
        self._policy = policy

    async def check(self, token: str, address: str) -> None:
        try:
            await self._window.check(
                "refresh",
                (
                    (address_key("refresh", address), self._policy.refresh_max_failures),
                    (token_key(token), self._policy.refresh_token_max_failures),
                ),
            )
        except TooManyAttempts:
            security_log.warning(
                "refresh throttled", extra={"event": "refresh_throttled", "ip": address}
            )
            raise

    async def failed(self, token: str, address: str) -> None:
        await self._window.record(address_key("refresh", address), token_key(token))


class RegistrationThrottle:
    """Registration attempts per client address, counted whatever their outcome.

    Counting only refusals (409) would make a 429 mean "you hit existing emails"; counting
    every attempt that passed validation says nothing about any email, and also bounds
    how many accounts (and argon2 hashes) one address can make.
    """

    def __init__(self, log: FailureLog, policy: ThrottlePolicy, clock: Clock) -> None:
        self._window = SlidingWindow(log, policy.window, clock)
        self._policy = policy

    async def check(self, address: str) -> None:
        key = address_key("register", address)
        await self._window.check("register", ((key, self._policy.register_max_attempts),))

    async def attempted(self, address: str) -> None:
        await self._window.record(address_key("register", address))
