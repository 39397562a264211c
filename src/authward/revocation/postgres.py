"""Revocations on PostgreSQL without Redis: the SQL table, pushed by LISTEN/NOTIFY.

A revocation is written to the table as on any SQL database (`SqlRevocationBus`) and, in
the same transaction, announced with ``pg_notify``: PostgreSQL delivers the notification
when, and only when, the transaction commits, to every session listening on the channel,
in commit order. Each node keeps one connection of its own (asyncpg, outside the engine's
pool, from the same URL) that LISTENs and delivers what it hears at once.

The table stays the record and the poll stays the resync. On every (re)connection the
listener LISTENs first and reads the table second (`sync`), so what was committed while
it was away is read, and what is committed afterwards is heard. The poll still runs every
``AUTHWARD_REVOCATION_POLL_INTERVAL`` (it is also what notices the database gone, and so
fails verification closed): a notification is lost only with its connection, and then the
poll reads the row within an interval while the listener comes back, with backoff. A
connection that died silently is noticed by the listener's own ping within
`HEARTBEAT` + `DEAD_AFTER` seconds.

The payload (`authward.revocation.wire`) is the row's id and what the row holds: ids and
instants, never a token or a session id (a session's end names the SHA-256 of its id). A
notification repeats what the table says; whoever may NOTIFY on the database may as well
insert into the table.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any, Final

import asyncpg
from sqlalchemy import String, func, literal, select
from sqlalchemy.ext.asyncio import AsyncEngine

from authward.clock import Clock
from authward.errors import StoreUnavailable
from authward.revocation import wire
from authward.revocation.list import Revocation
from authward.revocation.reconnect import Reconnecting
from authward.revocation.sql import SqlRevocationBus, insert_returning
from authward.storage.sql import connect_args, translated_errors

log = logging.getLogger(__name__)

CHANNEL: Final = "authward_revocations"
APPLICATION_NAME: Final = "authward-revocations"  # how the listener shows in pg_stat_activity
HEARTBEAT: Final = 1.0  # seconds between the listener's pings
DEAD_AFTER: Final = 3.0  # seconds a ping or a connection attempt may take
RECONNECT_MAX: Final = 2.0  # seconds between attempts at the longest

# Options SQLAlchemy's asyncpg dialect takes for itself; asyncpg.connect knows none of them.
_DIALECT_ONLY: Final = (
    "async_creator_fn",
    "prepared_statement_cache_size",
    "prepared_statement_name_func",
)


class PostgresRevocationBus(SqlRevocationBus):
    """The SQL bus, announced by NOTIFY and heard by a LISTEN connection of each node's own.

    `start` runs the listener (a server does; a CLI command only publishes, and its
    NOTIFY reaches the servers all the same); `close` stops it.
    """

    def __init__(
        self,
        engine: AsyncEngine,
        clock: Clock,
        *,
        channel: str = CHANNEL,
        heartbeat: float = HEARTBEAT,
        dead_after: float = DEAD_AFTER,
    ) -> None:
        super().__init__(engine, clock)
        self.channel = channel
        self._heartbeat = heartbeat
        self._dead_after = dead_after
        self._live = False
        self._listener = Reconnecting(
            self._listen,
            name="revocation-listener",
            expected=(
                OSError,
                TimeoutError,
                asyncpg.PostgresError,
                asyncpg.InterfaceError,
                StoreUnavailable,
            ),
            lost=_lost,
            longest=RECONNECT_MAX,
        )

    @property
    def live(self) -> bool:
        """Whether the listener is up and has read what was committed before it listened."""
        return self._live

    @property
    def connects(self) -> int:
        """Successful LISTENs, each followed by a read of the table."""
        return self._listener.connects

    def start(self) -> None:
        self._listener.start()

    async def close(self) -> None:
        await self._listener.close()
        self._live = False

    def staleness(self, poll_interval: float) -> float:
        # Milliseconds while the listener is up; a notification lost with its connection
        # is read by the next poll: one interval.
        return poll_interval

    async def publish(self, revocation: Revocation) -> None:
        # Here first: should the write fail, this node at least is protected.
        self._deliver(revocation)
        # One statement, on its own (autocommit): the row and its NOTIFY, sent when that
        # statement commits and never without the row. One round trip, not four (BEGIN,
        # INSERT, NOTIFY, COMMIT): each is a wake-up of the server on a busy machine.
        written = insert_returning(revocation).cte("written")
        payload = func.concat(written.c.id, literal(" " + wire.tail(revocation), String))
        statement = select(written.c.id, func.pg_notify(self.channel, payload))
        async with translated_errors(), self._engine.connect() as conn:
            autocommit = await conn.execution_options(isolation_level="AUTOCOMMIT")
            row_id = int((await autocommit.execute(statement)).scalars().one())
        self._recorded(row_id)

    # --- the listener ---------------------------------------------------------------------

    async def _listen(self) -> None:
        closed = asyncio.Event()
        connection = await self._connect()
        try:
            connection.add_termination_listener(lambda _: closed.set())
            await connection.add_listener(self.channel, self._notified)
            self._listener.connected()
            await self.sync()  # what was committed before LISTEN took hold
            self._live = True
            while not self._listener.closing:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(closed.wait(), self._heartbeat)
                if closed.is_set() or connection.is_closed():
                    raise ConnectionError("the listening connection was closed")
                await asyncio.wait_for(connection.fetchval("SELECT 1"), self._dead_after)
        finally:
            self._live = False
            connection.terminate()  # no goodbye: it may be dead, and close could wait

    async def _connect(self) -> asyncpg.Connection:
        """A connection of its own, outside the engine's pool, opened as the pool opens its
        own: the engine's URL and the ``connect_args`` it was made with (TLS, a role, server
        settings), where `create_engine` recorded them."""
        args, options = self._engine.dialect.create_connect_args(self._engine.url)
        merged = {**options, **(connect_args(self._engine) or {})}
        params: dict[str, Any] = {k: v for k, v in merged.items() if k not in _DIALECT_ONLY}
        params["timeout"] = self._dead_after  # the listener's own bound on connecting
        settings = {**params.pop("server_settings", {}), "application_name": APPLICATION_NAME}
        connection: asyncpg.Connection = await asyncpg.connect(
            *args, **params, server_settings=settings
        )
        return connection

    def _notified(self, connection: object, pid: int, channel: str, payload: object) -> None:
        heard = wire.decode(payload) if isinstance(payload, str) else None
        if heard is None:
            log.warning("ignored a malformed revocation notification")
            return
        self._heard(*heard)


def _lost(exc: BaseException) -> None:
    log.warning("revocation listener down, reconnecting: %s", exc)
