"""One row by its key, in one hop: the reads a request may make (a session, an account).

Through SQLAlchemy's async engine a one-row SELECT cost about 400 µs on SQLite, eight
times the query itself: aiosqlite makes each DBAPI call (cursor, execute, fetch, close,
then the pool's rollback) a trip to its thread and back. On PostgreSQL it was three
round trips (BEGIN, the SELECT, the pool's ROLLBACK). A `RowReader` compiles its
statement once with SQLAlchemy (the table stays the one in `schema`) and runs it through
the driver:

* SQLite (a file): one trip to a reader thread of a small pool, each thread with its own
  connection in autocommit mode: every read sees the latest commit and no read holds a
  snapshot (which would keep the WAL from being checkpointed) between reads.
* PostgreSQL (asyncpg): one round trip on a connection of the engine's pool, outside any
  transaction (one SELECT is atomic by itself); asyncpg prepares the statement once per
  connection.
* Anything else (an in-memory SQLite, another driver): SQLAlchemy's own way.

Values come back through the columns' own result processors, so a row reads the same
whichever way it came. Parameters go to the driver as they are (bytes, str): keys only.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
import weakref
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Final

import asyncpg
from sqlalchemy import Select, event
from sqlalchemy.engine import Dialect, Engine, make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from authward.errors import StoreUnavailable
from authward.storage.sql import keep_owner_only, means_gone, means_unavailable, sqlstate
from authward.storage.sql import translated_errors as sql_errors

__all__ = ["SQLITE_READERS", "RowReader"]

# Reader threads (and connections) per SQLite file: reads in WAL mode do not wait for
# one another or for the writer; a few threads keep a burst from queueing behind one.
SQLITE_READERS: Final = 4

Row = dict[str, Any]
Process = Callable[[Any], Any] | None


class RowReader:
    """`statement` (a SELECT of columns by named bind parameters), ready to run by key."""

    def __init__(self, engine: AsyncEngine, statement: Select[Any]) -> None:
        self._engine = engine
        self._statement = statement
        dialect = engine.dialect
        compiled = statement.compile(dialect=dialect)
        self._sql = compiled.string
        self._order: Sequence[str] = compiled.positiontup or ()
        columns = list(statement.selected_columns)
        self._names = [str(column.key) for column in columns]
        self._processors: list[Process] = [_processor(column.type, dialect) for column in columns]
        self._sqlite = _sqlite_file(engine)
        self._asyncpg = dialect.name == "postgresql" and dialect.driver == "asyncpg"

    async def one(self, **params: Any) -> Row | None:
        """The first row for these parameters, as a dict by column key; None for none.

        Raises StoreUnavailable when the database does not answer.
        """
        values = [params[name] for name in self._order]
        if self._sqlite is not None:
            raw = await _threads(self._engine, self._sqlite).read(self._sql, values)
        elif self._asyncpg:
            raw = await self._postgres(values)
        else:
            async with sql_errors(), self._engine.connect() as conn:
                found = (await conn.execute(self._statement, params)).first()
            return None if found is None else dict(found._mapping)
        if raw is None:
            return None
        return {
            name: value if process is None else process(value)
            for name, value, process in zip(self._names, raw, self._processors, strict=True)
        }

    async def _postgres(self, values: list[Any]) -> Sequence[Any] | None:
        async with sql_errors(), self._engine.connect() as conn:
            driver: Any = (await conn.get_raw_connection()).driver_connection
            try:
                record: Sequence[Any] | None = await driver.fetchrow(self._sql, *values)
            except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError) as exc:
                code = sqlstate(exc)
                connection_lost = not isinstance(exc, asyncpg.PostgresError) or means_gone(code)
                if connection_lost:
                    await conn.invalidate(exc)  # the pool replaces it, as for any disconnect
                if connection_lost or means_unavailable(code):
                    raise StoreUnavailable("database") from exc
                raise
        return record


def _processor(type_: Any, dialect: Dialect) -> Process:
    processor: Process = type_.dialect_impl(dialect).result_processor(dialect, None)
    return processor


def _sqlite_file(engine: AsyncEngine) -> str | None:
    """The path of the engine's SQLite file, if it is one (not in memory, not a URI)."""
    url = make_url(str(engine.url))
    if url.get_backend_name() != "sqlite" or url.query.get("uri"):
        return None
    if url.database in (None, "", ":memory:"):
        return None
    return url.database


_Read = tuple[str, list[Any], "asyncio.Future[Sequence[Any] | None]"]
_Answer = tuple["asyncio.Future[Sequence[Any] | None]", Sequence[Any] | None, BaseException | None]


class _SqliteThreads:
    """The reader threads of one SQLite file, each with its connection; closed with the
    engine (`engine.dispose()`), opened again by the next read.

    Reads that arrive while a reader thread is on its way are handed over together, and
    their answers come back together: one thread wake-up and one wake-up of the event
    loop for the lot. Under load the trip (not the query) is what a read costs, so a busy
    server pays it once for many requests; a lone read goes as it would alone. On a
    saturated server the answer waits for the loop's turn (5-15 ms), and the requests
    parked on it meanwhile are what costs: their objects outlive young collections and
    bring on full ones (benchmarks/README.md, "Under load").
    """

    def __init__(self, path: str) -> None:
        self._path = path
        self._executor = ThreadPoolExecutor(SQLITE_READERS, thread_name_prefix="authward-read")
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._waiting: list[_Read] = []  # guarded by _lock
        self._called = False  # a thread is on its way to take `_waiting`; guarded by _lock

    async def read(self, sql: str, values: list[Any]) -> Sequence[Any] | None:
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[Sequence[Any] | None] = loop.create_future()
        with self._lock:
            self._waiting.append((sql, values, answer))
            call, self._called = not self._called, True
        if call:
            self._executor.submit(self._read_waiting, loop)
        return await answer

    def close(self) -> None:
        self._executor.shutdown(wait=True)  # at close only: the reads in flight finish
        with self._lock:
            left, self._waiting = self._waiting, []
            for connection in self._connections:
                connection.close()
            self._connections.clear()
        for _, _, answer in left:
            if not answer.done():
                answer.set_exception(StoreUnavailable("database"))

    def _read_waiting(self, loop: asyncio.AbstractEventLoop) -> None:
        with self._lock:
            batch, self._waiting, self._called = self._waiting, [], False
        answers: list[_Answer] = []
        for sql, values, answer in batch:
            try:
                answers.append((answer, self._read(sql, values), None))
            except (sqlite3.OperationalError, OSError) as exc:
                unavailable = StoreUnavailable("database")
                unavailable.__cause__ = exc
                answers.append((answer, None, unavailable))
            except Exception as exc:  # a bug: the request that asked gets it, not the thread
                answers.append((answer, None, exc))
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: nobody waits
            loop.call_soon_threadsafe(_deliver, answers)

    def _read(self, sql: str, values: list[Any]) -> Sequence[Any] | None:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._local.connection = self._connect()
        row: Sequence[Any] | None = connection.execute(sql, values).fetchone()
        return row

    def _connect(self) -> sqlite3.Connection:
        keep_owner_only(self._path)  # as for the engine's own connections
        # isolation_level=None: autocommit, so no read leaves a transaction open.
        connection = sqlite3.connect(
            self._path, timeout=30, isolation_level=None, check_same_thread=False
        )
        connection.execute("PRAGMA busy_timeout=30000")
        connection.execute("PRAGMA cache_size=-1024")  # as the engine's: bounded memory
        with self._lock:
            self._connections.append(connection)
        return connection


def _deliver(answers: list[_Answer]) -> None:
    for answer, row, error in answers:
        if answer.done():  # its request gave up (cancelled)
            continue
        if error is not None:
            answer.set_exception(error)
        else:
            answer.set_result(row)


# The reader threads of each engine (its sync core, which `engine_disposed` names).
_OPEN: weakref.WeakKeyDictionary[Engine, _SqliteThreads] = weakref.WeakKeyDictionary()


def _threads(engine: AsyncEngine, path: str) -> _SqliteThreads:
    core = engine.sync_engine
    threads = _OPEN.get(core)
    if threads is None:
        threads = _OPEN[core] = _SqliteThreads(path)
        if not event.contains(core, "engine_disposed", _close):
            event.listen(core, "engine_disposed", _close)
    return threads


def _close(core: Engine) -> None:
    if (threads := _OPEN.pop(core, None)) is not None:
        threads.close()
