"""Revocations in SQL, polled: how the workers of one machine (or nodes sharing a
database) agree within ``AUTHWARD_REVOCATION_POLL_INTERVAL``. The push paths
(`authward.revocation.postgres`, `authward.revocation.samehost`) announce each row as it
is written; this poll stays their resync, and `_heard` keeps a row delivered either way
from being delivered twice.

Each revocation is a row; `sync` reads the rows added since the last poll. Row ids are
allocated when a transaction inserts, not when it commits, so on PostgreSQL a row with a
lower id can become visible after a higher one was read. Each poll therefore re-reads
from the highest id seen `LOOKBACK_POLLS` polls ago (a bounded window of recent rows)
and delivers only the ids it has not delivered yet; applying is idempotent anyway.
`resync`, at start, reads every revocation still in force.

Reading from an id on relies on ids that only rise (issue 14: once the sweep had
emptied the table, SQLite handed out id 1 again, and every other worker passed over
the new rows). The ids never repeat (``AUTOINCREMENT`` on SQLite, a sequence on
PostgreSQL), and the sweep always spares the newest row, so the table's highest id never
goes down while the table lives. A highest id below one this node has seen thus means
the table went backwards: emptied by hand, recreated, restored from a backup. The node
then says so once and reads the whole table again, forgetting which ids it delivered
(they may name other rows now), but nothing it learnt: its revocation list keeps every
entry until it runs out, so a revocation the table lost still holds on this node (a
node started afterwards cannot learn it). A table that went backwards and then, before
this node's next poll, gained more rows than it had lost cannot be told apart by its ids.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from datetime import datetime
from typing import Final

from sqlalchemy import Column, Integer, String, Table, delete, func, insert, select
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql.dml import ReturningInsert

from authward.clock import Clock
from authward.revocation.bus import Deliver
from authward.revocation.list import Revocation
from authward.storage.sql import UtcDateTime, metadata, translated_errors

security_log = logging.getLogger("authward.security")

LOOKBACK_POLLS: Final = 30
UNWRITTEN: Final = 0  # the row id a push gives a revocation sent before its row exists
MAX_EARLY: Final = 10_000
RESYNC_LOOKBACK: Final = 1000  # ids below the top at start that may still be committing

revocations = Table(
    "authward_revocations",
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
        self._seen = 0  # the highest id known to have been in the table
        self._syncing = asyncio.Lock()
        self._early: dict[Revocation, None] = {}  # pushed before their rows were written

    async def publish(self, revocation: Revocation) -> None:
        # Here first: should the write fail, this node at least is protected.
        self._deliver(revocation)
        await self._record(revocation)

    async def _record(self, revocation: Revocation) -> None:
        async with translated_errors(), self._engine.begin() as conn:
            result = await conn.execute(insert_returning(revocation))
        self._recorded(int(result.one()[0]))

    def _recorded(self, row_id: int) -> None:
        """Row `row_id`, written here, is delivered here already: the poll passes it by."""
        self._delivered.add(row_id)
        self._seen = max(self._seen, row_id)

    def subscribe(self, deliver: Deliver) -> None:
        self._subscribers.append(deliver)

    async def resync(self) -> list[Revocation]:
        query = select(revocations).where(revocations.c.until > self._clock.now())
        async with translated_errors(), self._engine.connect() as conn:
            top = await _highest_id(conn)
            rows = (await conn.execute(query.order_by(revocations.c.id))).mappings().all()
        self._floors = deque([max(0, top - RESYNC_LOOKBACK)], maxlen=LOOKBACK_POLLS)
        self._delivered = {int(r["id"]) for r in rows if r["id"] > self._floors[0]}
        self._seen = top
        return [_revocation(row) for row in rows]

    async def sync(self) -> None:
        # One at a time: a push path resyncs on reconnection while the poll may be reading.
        async with self._syncing:
            await self._read_new()

    async def _read_new(self) -> None:
        async with translated_errors(), self._engine.connect() as conn:
            top = await _highest_id(conn)
            if top < self._seen:
                self._read_again(top)
            query = select(revocations).where(revocations.c.id > self._floors[0])
            rows = (await conn.execute(query.order_by(revocations.c.id))).mappings().all()
        for row in rows:
            self._heard(int(row["id"]), _revocation(row))
        self._floors.append(max([self._floors[-1], *(int(r["id"]) for r in rows)]))
        self._delivered = {i for i in self._delivered if i > self._floors[0]}
        self._forget_early()
        self._seen = max(self._seen, self._floors[-1])

    def _heard(self, row_id: int, revocation: Revocation) -> None:
        """Deliver the revocation of row `row_id` unless this node delivered it already.

        Row id 0: pushed before its row was written (`UNWRITTEN`). It is known by its
        value until the poll reads its row, which is then passed by.
        """
        if row_id == UNWRITTEN:
            if revocation not in self._early:
                self._early[revocation] = None
                self._deliver(revocation)
            return
        if row_id in self._delivered:
            return
        self._delivered.add(row_id)
        if revocation in self._early:
            del self._early[revocation]  # heard before it was written
            return
        self._deliver(revocation)

    def _forget_early(self) -> None:
        """Values heard early whose row never came (a failed write) go once they ran out."""
        now = self._clock.now()
        for revocation in [r for r in self._early if r.until <= now]:
            del self._early[revocation]
        while len(self._early) > MAX_EARLY:
            del self._early[next(iter(self._early))]

    async def sweep(self, now: datetime) -> int:
        # The newest row stays, run out or not: it keeps the highest id from going down,
        # which is how `sync` tells a table that went backwards from a swept one.
        newest = select(func.max(revocations.c.id)).scalar_subquery()
        expired = delete(revocations).where(revocations.c.until <= now, revocations.c.id < newest)
        async with translated_errors(), self._engine.begin() as conn:
            result = await conn.execute(expired)
        return int(result.rowcount or 0)

    def start(self) -> None:
        return None  # polled: `sync` delivers, every poll interval

    async def close(self) -> None:
        return None  # the engine is the caller's

    def staleness(self, poll_interval: float) -> float:
        return poll_interval  # the next poll reads what any node wrote before it

    def _read_again(self, top: int) -> None:
        """Start over from the first row: the ids this node passed may be in use again."""
        security_log.warning(
            "the revocations table went backwards (highest id %s, %s seen before): "
            "reading all of it again",
            top,
            self._seen,
            extra={"event": "revocations_reread"},
        )
        self._floors = deque([0], maxlen=LOOKBACK_POLLS)
        self._delivered = set()
        self._seen = top

    def _deliver(self, revocation: Revocation) -> None:
        for deliver in self._subscribers:
            deliver(revocation)


def insert_returning(revocation: Revocation) -> ReturningInsert[int]:
    """The row of `revocation`, returning its id."""
    row = {
        "kind": revocation.kind,
        "subject": revocation.subject,
        "at": revocation.at,
        "until": revocation.until,
    }
    return insert(revocations).values(**row).returning(revocations.c.id)


async def _highest_id(conn: AsyncConnection) -> int:
    return int((await conn.execute(select(func.max(revocations.c.id)))).scalar() or 0)
