"""Revocations in SQL, polled: how the workers of one machine (or nodes sharing a
database) agree within ``AUTHWARD_REVOCATION_POLL_INTERVAL``.

Each revocation is a row; `sync` reads the rows added since the last poll. Row ids are
allocated when a transaction inserts, not when it commits, so on PostgreSQL a row with a
lower id can become visible after a higher one was read. Each poll therefore re-reads
from the highest id seen `LOOKBACK_POLLS` polls ago (a bounded window of recent rows)
and delivers only the ids it has not delivered yet; applying is idempotent anyway.
`resync`, at start, reads every revocation still in force.
"""

from __future__ import annotations

from collections import deque
from datetime import datetime
from typing import Final

from sqlalchemy import Column, Integer, String, Table, delete, func, insert, select
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncEngine

from authward.clock import Clock
from authward.revocation.bus import Deliver
from authward.revocation.list import Revocation
from authward.storage.sql import UtcDateTime, metadata, translated_errors

LOOKBACK_POLLS: Final = 30
RESYNC_LOOKBACK: Final = 1000  # ids below the top at start that may still be committing

revocations = Table(
    "revocations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(8), nullable=False),
    Column("subject", String(64), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("until", UtcDateTime, nullable=False, index=True),
    # Ids only rise, even once every row is gone (SQLite would otherwise reuse them).
    sqlite_autoincrement=True,
)


def _revocation(row: RowMapping) -> Revocation:
    return Revocation(row["kind"], row["subject"], row["at"], row["until"])


class SqlRevocationBus:
    """A revocation bus over one SQL table, for processes that share the database."""

    def __init__(self, engine: AsyncEngine, clock: Clock) -> None:
        self._engine = engine
        self._clock = clock
        self._subscribers: list[Deliver] = []
        self._floors: deque[int] = deque([0], maxlen=LOOKBACK_POLLS)
        self._delivered: set[int] = set()

    async def publish(self, revocation: Revocation) -> None:
        # Here first: should the write fail, this node at least is protected.
        self._deliver(revocation)
        row = {
            "kind": revocation.kind,
            "subject": revocation.subject,
            "at": revocation.at,
            "until": revocation.until,
        }
        async with translated_errors(), self._engine.begin() as conn:
            result = await conn.execute(insert(revocations).values(**row))
        if result.inserted_primary_key is not None:
            self._delivered.add(int(result.inserted_primary_key[0]))

    def subscribe(self, deliver: Deliver) -> None:
        self._subscribers.append(deliver)

    async def resync(self) -> list[Revocation]:
        query = select(revocations).where(revocations.c.until > self._clock.now())
        async with translated_errors(), self._engine.connect() as conn:
            top = (await conn.execute(select(func.max(revocations.c.id)))).scalar()
            rows = (await conn.execute(query.order_by(revocations.c.id))).mappings().all()
        self._floors = deque([max(0, int(top or 0) - RESYNC_LOOKBACK)], maxlen=LOOKBACK_POLLS)
        self._delivered = {int(r["id"]) for r in rows if r["id"] > self._floors[0]}
        return [_revocation(row) for row in rows]

    async def sync(self) -> None:
        floor = self._floors[0]
        query = select(revocations).where(revocations.c.id > floor).order_by(revocations.c.id)
        async with translated_errors(), self._engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        for row in rows:
            if row["id"] not in self._delivered:
                self._delivered.add(row["id"])
                self._deliver(_revocation(row))
        self._floors.append(max([self._floors[-1], *(int(r["id"]) for r in rows)]))
        self._delivered = {i for i in self._delivered if i > self._floors[0]}

    async def sweep(self, now: datetime) -> int:
        async with translated_errors(), self._engine.begin() as conn:
            result = await conn.execute(delete(revocations).where(revocations.c.until <= now))
        return int(result.rowcount or 0)

    def _deliver(self, revocation: Revocation) -> None:
        for deliver in self._subscribers:
            deliver(revocation)
