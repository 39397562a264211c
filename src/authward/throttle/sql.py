"""The FailureLog in SQL (SQLite, PostgreSQL): the ``login_failures`` table.

One transaction adds an entry under every key with ``INSERT … SELECT … WHERE (count) <
ceiling``. On SQLite a writing statement takes the database's write lock before it reads,
so the count and the add cannot be split, by another connection or another process. On
PostgreSQL two such statements would each count without seeing the other's uncommitted
row, so the transaction first takes an advisory lock per key (in one order, so two
transactions never wait on each other in a circle).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import (
    Column,
    Index,
    Integer,
    LargeBinary,
    Table,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql.dml import ReturningInsert

from authward.storage.sql import UtcDateTime, metadata, translated_errors
from authward.throttle.log import Admission, Entry, Limit

login_failures = Table(
    "authward_login_failures",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", LargeBinary(32), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Index("ix_authward_login_failures_key_at", "key", "at"),
)

# The first argument of PostgreSQL's two-key advisory locks: a class of its own, so that
# these locks never meet an application's that shares the database (theirs are usually
# one bigint, or another class).
_ADVISORY_LOCK_CLASS = 0x61777468  # "awth"


class _Refused(Exception):
    """Rolls the reservation's transaction back, carrying why."""

    def __init__(self, blocked_by: datetime) -> None:
        self.blocked_by = blocked_by


class SqlFailureLog:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def reserve(self, limits: Sequence[Limit], at: datetime, since: datetime) -> Admission:
        try:
            async with translated_errors(), self._engine.begin() as conn:
                if conn.dialect.name == "postgresql":
                    # In one order for every transaction: none waits on another in a circle.
                    for lock in sorted({_lock_id(key) for key, _ in limits}):
                        await conn.execute(select(func.pg_advisory_xact_lock(*lock)))
                held = []
                for key, ceiling in limits:
                    entry = await conn.scalar(_add_under_ceiling(key, ceiling, at, since))
                    if entry is None:
                        raise _Refused(await _blocked_by(conn, key, ceiling, since))
                    held.append((key, str(entry)))
        except _Refused as refused:
            return Admission(blocked_by=refused.blocked_by)
        return Admission(held=tuple(held))

    async def release(self, entries: Sequence[Entry], clear: Sequence[bytes] = ()) -> None:
        ids = [int(entry) for _, entry in entries]
        condition = or_(login_failures.c.id.in_(ids), login_failures.c.key.in_(list(clear)))
        async with translated_errors(), self._engine.begin() as conn:
            await conn.execute(delete(login_failures).where(condition))

    async def recent(self, key: bytes, since: datetime) -> list[datetime]:
        async with translated_errors(), self._engine.connect() as conn:
            return await _recent(conn, key, since)

    async def prune(self, before: datetime) -> int:
        async with translated_errors(), self._engine.begin() as conn:
            result = await conn.execute(delete(login_failures).where(login_failures.c.at < before))
        return int(result.rowcount or 0)


def _add_under_ceiling(
    key: bytes, ceiling: int, at: datetime, since: datetime
) -> ReturningInsert[tuple[int]]:
    """``INSERT … SELECT :key, :at WHERE (entries of key since) < ceiling RETURNING id``."""
    counted = (
        select(func.count())
        .select_from(login_failures)
        .where(login_failures.c.key == key, login_failures.c.at >= since)
        .scalar_subquery()
    )
    row = select(literal(key, LargeBinary()), literal(at, UtcDateTime())).where(counted < ceiling)
    return insert(login_failures).from_select(["key", "at"], row).returning(login_failures.c.id)


async def _blocked_by(conn: AsyncConnection, key: bytes, ceiling: int, since: datetime) -> datetime:
    entries = await _recent(conn, key, since)
    return entries[len(entries) - ceiling]


async def _recent(conn: AsyncConnection, key: bytes, since: datetime) -> list[datetime]:
    query = (
        select(login_failures.c.at)
        .where(login_failures.c.key == key, login_failures.c.at >= since)
        .order_by(login_failures.c.at)
    )
    return list((await conn.execute(query)).scalars())


def _lock_id(key: bytes) -> tuple[int, int]:
    """The advisory lock of `key`: our class, and 32 bits of the key (itself a digest)."""
    return _ADVISORY_LOCK_CLASS, int.from_bytes(key[:4], "big", signed=True)
