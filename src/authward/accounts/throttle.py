"""Failed-login counting: a sliding window per (account, address) and per account.

One attacker must not lock a victim out from everywhere, so two counts apply:

* per (account, client address): `max_failures` (``AUTHWARD_LOGIN_MAX_FAILURES``) in the
  window, reset by a success from that address;
* per account, from every address: a higher ceiling (``AUTHWARD_LOGIN_ACCOUNT_MAX_FAILURES``,
  ten times the first by default), which slows a distributed guesser without letting one
  address deny the owner.

Keys are digests of the normalised email (and address): the table holds no email.
The window slides: each failure counts for exactly `window` after it happened.
"""

from __future__ import annotations

import hashlib
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from math import ceil
from typing import Protocol

from sqlalchemy import Column, Index, Integer, LargeBinary, Table, delete, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from authward.clock import Clock
from authward.errors import TooManyAttempts
from authward.storage.sql import UtcDateTime, metadata, translated_errors


@dataclass(frozen=True, slots=True)
class ThrottlePolicy:
    max_failures: int
    account_max_failures: int
    window: timedelta


def account_key(email: str) -> bytes:
    return hashlib.sha256(b"account\x00" + email.encode()).digest()


def pair_key(email: str, address: str) -> bytes:
    return hashlib.sha256(b"pair\x00" + email.encode() + b"\x00" + address.encode()).digest()


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


class LoginThrottle:
    """Say whether a login may be tried, and remember how the last ones went."""

    def __init__(self, log: FailureLog, policy: ThrottlePolicy, clock: Clock) -> None:
        self._log = log
        self._policy = policy
        self._clock = clock

    async def check(self, email: str, address: str) -> None:
        """Raise TooManyAttempts (with the wait) when either count is at its limit."""
        now = self._clock.now()
        # A failure counts for exactly `window`: from its instant up to, not including,
        # instant + window (the logs keep microseconds, so `since` starts one later).
        since = now - self._policy.window + timedelta(microseconds=1)
        for key, limit in (
            (pair_key(email, address), self._policy.max_failures),
            (account_key(email), self._policy.account_max_failures),
        ):
            failures = await self._log.recent(key, since)
            if len(failures) >= limit:
                # The window slides: the wait ends when enough old failures age out.
                frees_at = failures[len(failures) - limit] + self._policy.window
                raise TooManyAttempts(ceil((frees_at - now).total_seconds()))

    async def failed(self, email: str, address: str) -> None:
        await self._log.record((pair_key(email, address), account_key(email)), self._clock.now())

    async def succeeded(self, email: str, address: str) -> None:
        await self._log.clear(pair_key(email, address))

    async def prune(self) -> int:
        return await self._log.prune(self._clock.now() - self._policy.window)
