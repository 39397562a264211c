"""The FailureLog in SQL (SQLite, PostgreSQL): the ``login_failures`` table.

One statement adds an entry under every key, ``INSERT … SELECT :key, :at WHERE (count) <
ceiling UNION ALL …`` (a branch per key, each counted before any is added); with fewer
rows back than keys, its transaction rolls back and nothing is held. On SQLite a writing
statement takes the database's write lock before it reads, so the count and the add
cannot be split, by another connection or another process. On PostgreSQL two such
statements would each count without seeing the other's uncommitted rows, so the
transaction first takes an advisory lock per key (in one order, so two transactions never
wait on each other in a circle).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import cache
from typing import Any, Final

from sqlalchemy import (
    Column,
    Index,
    Integer,
    LargeBinary,
    Table,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql.dml import Delete, ReturningInsert

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
        keys = [key for key, _ in limits]
        if len(set(keys)) != len(keys):  # the branches would not count each other's add
            raise ValueError("a reservation names each key once")
        try:
            async with translated_errors(), self._engine.begin() as conn:
                if conn.dialect.name == "postgresql":
                    # In one order for every transaction: none waits on another in a circle.
                    for lock in sorted({_lock_id(key) for key in keys}):
                        await conn.execute(select(func.pg_advisory_xact_lock(*lock)))
                # Every key in one statement: a login's reservation is one round trip to
                # the database, not one per key (each costs the event loop a hand-off).
                added = await conn.execute(
                    _add_under_ceilings(len(limits)), _bound(limits, at, since)
                )
                held: dict[bytes, int] = {bytes(key): int(entry) for key, entry in added}
                for key, ceiling in limits:
                    if key not in held:  # the first key at its ceiling, in the given order
                        raise _Refused(await _blocked_by(conn, key, ceiling, since))
        except _Refused as refused:
            return Admission(blocked_by=refused.blocked_by)
        return Admission(held=tuple((key, str(held[key])) for key in keys))

    async def release(self, entries: Sequence[Entry], clear: Sequence[bytes] = ()) -> None:
        ids = [int(entry) for _, entry in entries]
        async with translated_errors(), self._engine.begin() as conn:
            await conn.execute(_RELEASE, {"ids": ids, "clear": list(clear)})

    async def recent(self, key: bytes, since: datetime) -> list[datetime]:
        async with translated_errors(), self._engine.connect() as conn:
            return await _recent(conn, key, since)

    async def prune(self, before: datetime) -> int:
        async with translated_errors(), self._engine.begin() as conn:
            result = await conn.execute(delete(login_failures).where(login_failures.c.at < before))
        return int(result.rowcount or 0)


@cache
def _add_under_ceilings(count: int) -> ReturningInsert[Any]:
    """``INSERT … SELECT :key_i, :at WHERE (entries of key_i since) < :ceiling_i UNION ALL
    … RETURNING key, id`` for `count` keys: built once per count, values bound per call."""
    branches = []
    for i in range(count):
        key = bindparam(f"key_{i}", type_=LargeBinary())
        counted = (
            select(func.count())
            .select_from(login_failures)
            .where(
                login_failures.c.key == key,
                login_failures.c.at >= bindparam("since", type_=UtcDateTime()),
            )
            .scalar_subquery()
        )
        row = select(key, bindparam("at", type_=UtcDateTime())).where(
            counted < bindparam(f"ceiling_{i}", type_=Integer())
        )
        branches.append(row)
    rows = branches[0] if count == 1 else union_all(*branches)
    return (
        insert(login_failures)
        .from_select(["key", "at"], rows)
        .returning(login_failures.c.key, login_failures.c.id)
    )


def _bound(limits: Sequence[Limit], at: datetime, since: datetime) -> dict[str, Any]:
    values: dict[str, Any] = {"at": at, "since": since}
    for i, (key, ceiling) in enumerate(limits):
        values[f"key_{i}"] = key
        values[f"ceiling_{i}"] = ceiling
    return values


# Built once: a login's give-back binds its entry ids and the keys it clears.
_RELEASE: Final[Delete] = delete(login_failures).where(
    or_(
        login_failures.c.id.in_(bindparam("ids", expanding=True)),
        login_failures.c.key.in_(bindparam("clear", expanding=True)),
    )
)


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
