"""One row by its key, in one hop: the reads a request may make (a session, an account).

Through SQLAlchemy's async engine a one-row SELECT cost about 400 µs on SQLite, eight
times the query itself: aiosqlite makes each DBAPI call (cursor, execute, fetch, close,
then the pool's rollback) a trip to its thread and back. On PostgreSQL it was three
round trips (BEGIN, the SELECT, the pool's ROLLBACK), and even one round trip on a
connection of the engine's pool cost four times the query: the pool's checkout and
checkin, not the query, were most of it. A `RowReader` compiles its statement once with
SQLAlchemy (the table stays the one in `schema`) and runs it through the driver:

* SQLite (a file): one trip to one of a few reader threads of its own, each with its own
  connection in autocommit mode: every read sees the latest commit and no read holds a
  snapshot (which would keep the WAL from being checkpointed) between reads. A forked
  child leaves its parent's connections alone and starts threads of its own.
* PostgreSQL (asyncpg): one round trip on one of a few connections of the reads' own
  (`POSTGRES_READERS` per engine), beside the engine's pool, opened as the pool opens
  its own (the URL and the engine's connect_args). Each only ever runs one SELECT,
  outside any transaction (one SELECT is atomic by itself), so a connection goes back
  as it came, with no reset; asyncpg prepares each statement once per connection (not
  when the engine is set up for a transaction-mode pooler: then none is named). A read
  that fails or is cancelled on one discards it. They belong to the event loop that
  opened them (a forked child leaves its parent's alone), and close with the engine
  (`engine.dispose()`). An engine made elsewhere
  than `create_engine` (its connect options unknown), a read from another running loop,
  or a statement of JSON columns (which asyncpg decodes its own way): a connection of
  the engine's pool, outside any transaction.
* Anything else (an in-memory SQLite, another driver): SQLAlchemy's own way.

Values come back through the columns' own result processors, so a row reads the same
whichever way it came. Parameters go to the driver as they are (bytes, str): keys only.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import threading
import weakref
from collections.abc import Callable, Sequence
from typing import Any, Final, cast

import asyncpg
from sqlalchemy import JSON, Select, event
from sqlalchemy.engine import Dialect, Engine, make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from authward.errors import StoreUnavailable
from authward.storage.sql import (
    connect_args,
    keep_owner_only,
    means_gone,
    means_unavailable,
    sqlstate,
)
from authward.storage.sql import translated_errors as sql_errors

__all__ = ["POSTGRES_READERS", "SQLITE_READERS", "RowReader"]

# Reader threads (and connections) per SQLite file: reads in WAL mode do not wait for
# one another or for the writer; a few threads keep a burst from queueing behind one.
SQLITE_READERS: Final = 4

# Connections per PostgreSQL engine (and event loop) for the reads by key, beside the
# engine's pool: each answers one read at a time, and a burst queues for them rather
# than opening more (each is a server process, counted against max_connections).
POSTGRES_READERS: Final = 4
# How they show in pg_stat_activity, unless the engine's server_settings name one.
APPLICATION_NAME: Final = "authward-reads"
# Options SQLAlchemy's asyncpg dialect takes for itself; asyncpg.connect knows none of them.
_DIALECT_ONLY: Final = (
    "async_creator_fn",
    "prepared_statement_cache_size",
    "prepared_statement_name_func",
)
# What asyncpg raises when the server, or the connection to it, is not there (or says
# so by its SQLSTATE, `_unavailable`).
_DRIVER_ERRORS: Final = (
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.TargetServerAttributeNotMatched,  # a standby, mid-failover
    OSError,
    TimeoutError,
)

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
        # (index, processor) of the columns whose values the driver's are not already.
        self._processors = [
            (i, process)
            for i, column in enumerate(columns)
            if (process := _processor(column.type, dialect)) is not None
        ]
        self._sqlite = _sqlite_file(engine)
        self._asyncpg = dialect.name == "postgresql" and dialect.driver == "asyncpg"
        json = any(isinstance(column.type, JSON) for column in columns)
        # How the reads' own connections open; None: a connection of the engine's pool.
        self._connect: _Connect | None = (
            None if not self._asyncpg or json else _connect_options(engine)
        )

    async def one(self, **params: Any) -> Row | None:
        """The first row for these parameters, as a dict by column key; None for none.

        Raises StoreUnavailable when the database does not answer.
        """
        values = [params[name] for name in self._order]
        if self._sqlite is not None:
            raw = await _threads(self._engine, self._sqlite).read(self._sql, values)
        elif self._asyncpg:
            readers = None if self._connect is None else _readers(self._engine, self._connect)
            if readers is None:
                raw = await self._pooled(values)
            else:
                raw = await readers.read(self._sql, values)
        else:
            async with sql_errors(), self._engine.connect() as conn:
                found = (await conn.execute(self._statement, params)).first()
            return None if found is None else dict(found._mapping)
        if raw is None:
            return None
        if self._processors:
            raw = list(raw)
            for i, process in self._processors:
                raw[i] = process(raw[i])
        return dict(zip(self._names, raw, strict=True))

    async def _pooled(self, values: list[Any]) -> Sequence[Any] | None:
        async with sql_errors(), self._engine.connect() as conn:
            driver: Any = (await conn.get_raw_connection()).driver_connection
            try:
                record: Sequence[Any] | None = await driver.fetchrow(self._sql, *values)
            except _DRIVER_ERRORS as exc:
                if _connection_lost(exc):
                    await conn.invalidate(exc)  # the pool replaces it, as for any disconnect
                if _unavailable(exc):
                    raise StoreUnavailable("database") from exc
                raise
        return record


def _connection_lost(exc: BaseException) -> bool:
    return not isinstance(exc, asyncpg.PostgresError) or means_gone(sqlstate(exc))


def _unavailable(exc: BaseException) -> bool:
    """Whether asyncpg's `exc` says the database is not there (a 503), not a bug (a 500)."""
    return _connection_lost(exc) or means_unavailable(sqlstate(exc))


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


_Answer = asyncio.Future[Sequence[Any] | None]
_Read = tuple[str, list[Any], asyncio.AbstractEventLoop, _Answer]
_Outcome = tuple[_Answer, Sequence[Any] | None, BaseException | None]


_GO: Final = b"\x01"
_END: Final = b"\x00"


class _SqliteThreads:
    """The reader threads of one SQLite file, each with its connection; closed with the
    engine (`engine.dispose()`), opened again by the next read.

    Threads of their own rather than an executor's: a read is a list append and, when no
    thread is on its way already, one byte written to a pipe the idle threads block on
    reading; its answer comes back on a plain asyncio future, set in the loop by one
    `call_soon_threadsafe`. No executor's hand-off (a concurrent future with its
    condition, a work item, one future wrapped in another): about 15% fewer
    instructions per session check (callgrind). A pipe, not a queue (a lock's futex):
    on a 2-vCPU VM it halved the trip, wall and CPU time alike (benchmarks/storereads.py,
    "floor: SELECT 1 on the reader threads"), most likely because Linux wakes a
    pipe's reader as a "sync" wake-up, on the writer's CPU when it can, rather than
    waking the other, idle, CPU. Threads start as reads need them, up to SQLITE_READERS.

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
        # A byte per hand-over (_GO), or a thread's cue to end (_END). At most one _GO is
        # unread (`_called`) and one _END per thread: the pipe never fills, so a write
        # from the event loop never waits (and, non-blocking, could not).
        self._wake, self._tokens = os.pipe()
        os.set_blocking(self._tokens, False)
        # The pipe closes once nothing refers to these threads, not in close(): a read
        # given them just before another thread closed them still writes its byte into
        # this pipe, never into whatever file would have taken the number.
        self._close_pipe = weakref.finalize(self, _close_fds, self._wake, self._tokens)
        self._threads: list[threading.Thread] = []
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        # All guarded by _lock:
        self._waiting: list[_Read] = []
        self._called = False  # a _GO is in the pipe, for `_waiting`
        self._idle = 0  # threads waiting for a token
        self._closed = False

    async def read(self, sql: str, values: list[Any]) -> Sequence[Any] | None:
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[Sequence[Any] | None] = loop.create_future()
        with self._lock:
            if self._closed:  # disposed of by another thread since `_threads` gave it
                raise StoreUnavailable("database")
            self._waiting.append((sql, values, loop, answer))
            call, self._called = not self._called, True
            thread = None
            if call and self._idle == 0 and len(self._threads) < SQLITE_READERS:
                thread = threading.Thread(target=self._serve, name="authward-read", daemon=True)
                self._threads.append(thread)
        if call:
            os.write(self._tokens, _GO)
            if thread is not None:
                thread.start()
        return await answer

    def close(self) -> None:
        """End the threads once the reads in flight are answered; fail those not taken."""
        with self._lock:
            self._closed = True
            threads = list(self._threads)
        if threads:
            os.write(self._tokens, _END * len(threads))
        for thread in threads:
            thread.join()  # at close only: the reads in flight finish
        with self._lock:
            left, self._waiting = self._waiting, []
            for connection in self._connections:
                connection.close()
            self._connections.clear()
        _send(_failed(left))

    def forsake(self) -> list[sqlite3.Connection]:
        """In a forked child: give up the parent's connections, never to be used or
        closed here (SQLite's locks and its WAL's shared memory are the parent's, and
        closing the last connection of a file checkpoints it); return them. The threads
        did not come across the fork; a read in flight at the fork was the parent's."""
        self._closed = True
        connections, self._connections = self._connections, []
        self._close_pipe()  # the child's copies: the parent's pipe stays open
        return connections

    def _serve(self) -> None:
        """A reader thread: take what waits, read it, send the answers; until told to end."""
        connection: sqlite3.Connection | None = None
        while True:
            with self._lock:
                self._idle += 1
            token = os.read(self._wake, 1)
            with self._lock:
                self._idle -= 1
                if token != _GO:
                    return
                batch, self._waiting, self._called = self._waiting, [], False
            answers: dict[asyncio.AbstractEventLoop, list[_Outcome]] = {}
            for sql, values, loop, answer in batch:
                row: Sequence[Any] | None = None
                error: BaseException | None = None
                try:
                    if connection is None:
                        connection = self._connect()
                    row = connection.execute(sql, values).fetchone()
                except (sqlite3.OperationalError, OSError) as exc:
                    error = StoreUnavailable("database")
                    error.__cause__ = exc
                except Exception as exc:  # a bug: the request that asked gets it, not the thread
                    error = exc
                answers.setdefault(loop, []).append((answer, row, error))
            _send(answers)

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


def _close_fds(*fds: int) -> None:
    for fd in fds:
        with contextlib.suppress(OSError):
            os.close(fd)


def _failed(reads: list[_Read]) -> dict[asyncio.AbstractEventLoop, list[_Outcome]]:
    answers: dict[asyncio.AbstractEventLoop, list[_Outcome]] = {}
    for _, _, loop, answer in reads:
        answers.setdefault(loop, []).append((answer, None, StoreUnavailable("database")))
    return answers


def _send(answers: dict[asyncio.AbstractEventLoop, list[_Outcome]]) -> None:
    """Each loop's answers, set in that loop (a future is its loop's alone)."""
    for loop, outcomes in answers.items():
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: nobody waits
            loop.call_soon_threadsafe(_deliver, outcomes)


def _deliver(outcomes: list[_Outcome]) -> None:
    for answer, row, error in outcomes:
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
    if (readers := _POSTGRES.pop(core, None)) is not None:
        readers.close()


# --- PostgreSQL: the reads' own connections -------------------------------------------

_Connect = tuple[tuple[Any, ...], dict[str, Any]]  # asyncpg.connect's arguments


def _connect_options(engine: AsyncEngine) -> _Connect | None:
    """asyncpg.connect's arguments for a connection like the ones `engine`'s pool opens;
    None when those are not known here (an engine made elsewhere, or that a hook or a
    creator of its own connects)."""
    given = connect_args(engine)
    core = engine.sync_engine
    if given is None or core.dialect.dispatch.do_connect:
        return None
    args, options = core.dialect.create_connect_args(core.url)
    options = {**options, **given}
    if "async_creator_fn" in options:
        return None
    # SQLAlchemy's ways to run behind a transaction-mode pooler (PgBouncer), where a
    # statement prepared on one server connection is not there on the next: no cache of
    # prepared statements, or uniquely named ones. asyncpg's own is statement_cache_size=0
    # (its unnamed statements), which goes through as it is.
    pooler = (
        options.get("prepared_statement_cache_size") == 0
        or options.get("prepared_statement_name_func") is not None
    )
    options = {name: value for name, value in options.items() if name not in _DIALECT_ONLY}
    if pooler:
        options.setdefault("statement_cache_size", 0)
    settings = dict(options.pop("server_settings", None) or {})
    settings.setdefault("application_name", APPLICATION_NAME)
    return tuple(args), {**options, "server_settings": settings}


class _PostgresReaders:
    """The reads' own connections to one PostgreSQL engine's database, in the event loop
    that opened them: at most POSTGRES_READERS, opened as reads need them.

    A read takes an idle connection, or opens one while there are fewer than the bound,
    or waits (as long as the engine's pool would: then it is a 503) for one to come back.
    A connection the server closed (a restart, a kill) is known closed without a round
    trip and replaced; one a read failed or was cancelled on is discarded (a cancelled
    fetchrow leaves it in a state nobody knows).
    """

    def __init__(self, connect: _Connect, loop: asyncio.AbstractEventLoop, wait: float) -> None:
        self.loop = loop
        self._args, self._options = connect
        self._wait = wait
        self._room = asyncio.Semaphore(POSTGRES_READERS)
        self._idle: list[asyncpg.Connection] = []
        self._busy: set[asyncpg.Connection] = set()
        self._closed = False

    async def read(self, sql: str, values: list[Any]) -> Sequence[Any] | None:
        try:
            if self._room.locked():
                async with asyncio.timeout(self._wait):
                    await self._room.acquire()
            else:
                await self._room.acquire()
            try:
                connection = await self._take()
                try:
                    found = await connection.fetchrow(sql, *values)
                except BaseException:
                    self._discard(connection)
                    raise
                self._give_back(connection)
            finally:
                self._room.release()
        except _DRIVER_ERRORS as exc:
            if _unavailable(exc):
                raise StoreUnavailable("database") from exc
            raise
        return cast("Sequence[Any] | None", found)  # a Record reads as a tuple does

    async def _take(self) -> asyncpg.Connection:
        while self._idle:
            connection = self._idle.pop()  # the last one back: the warmest
            if not connection.is_closed():
                self._busy.add(connection)
                return connection
        connection = await asyncpg.connect(*self._args, **self._options)
        if self._closed:  # disposed of while it opened
            connection.terminate()
            raise asyncpg.ConnectionDoesNotExistError("the engine was disposed of")
        self._busy.add(connection)
        return connection

    def _give_back(self, connection: asyncpg.Connection) -> None:
        self._busy.discard(connection)
        if self._closed:
            connection.terminate()
        else:
            self._idle.append(connection)

    def _discard(self, connection: asyncpg.Connection) -> None:
        self._busy.discard(connection)
        connection.terminate()

    def close(self) -> None:
        """Close every connection, at once: those in use fail their read (a 503).

        terminate(), not close(): `engine.dispose()` tells us synchronously, and must
        not wait on a server that may be gone; an idle backend takes the end of its
        socket as a goodbye (and logs nothing for it). A connection is its event loop's:
        one disposed of from another loop (another thread) is ended in its own.
        """
        self._closed = True
        connections = [*self._idle, *self._busy]
        self._idle.clear()
        self._busy.clear()
        if self.loop.is_closed():
            return  # nothing can run in it any more: its sockets go with it
        try:
            here = asyncio.get_running_loop() is self.loop
        except RuntimeError:  # disposed of outside any loop
            here = False
        for connection in connections:
            if here:
                connection.terminate()
            else:
                self.loop.call_soon_threadsafe(connection.terminate)

    def forsake(self) -> list[asyncpg.Connection]:
        """Give up every connection without touching it (in a forked child their sockets
        are the parent's too, and the parent goes on using them); return them."""
        self._closed = True
        connections = [*self._idle, *self._busy]
        self._idle.clear()
        self._busy.clear()
        return connections


# The reads' own connections of each engine (its sync core, which `engine_disposed` names).
_POSTGRES: weakref.WeakKeyDictionary[Engine, _PostgresReaders] = weakref.WeakKeyDictionary()


def _readers(engine: AsyncEngine, connect: _Connect) -> _PostgresReaders | None:
    """The engine's read connections in the running event loop; None when another loop,
    still open, has them (that loop's connections are not this one's to use)."""
    core = engine.sync_engine
    readers = _POSTGRES.get(core)
    loop = asyncio.get_running_loop()
    if readers is not None and readers.loop is loop:
        return readers
    if readers is not None:
        if not readers.loop.is_closed():
            return None
        readers.close()  # their loop is gone, and with it every read that used them
    wait = getattr(core.pool, "timeout", lambda: 30.0)()
    readers = _POSTGRES[core] = _PostgresReaders(connect, loop, wait)
    if not event.contains(core, "engine_disposed", _close):
        event.listen(core, "engine_disposed", _close)
    return readers


# In a forked child, the parent's connections: kept, never used, so that no garbage
# collection of theirs (asyncpg terminates a connection it collects) ends the parent's.
_FORSAKEN: list[asyncpg.Connection | sqlite3.Connection] = []


def _forsake_all() -> None:
    for readers in _POSTGRES.values():
        _FORSAKEN.extend(readers.forsake())
    _POSTGRES.clear()
    for threads in _OPEN.values():
        _FORSAKEN.extend(threads.forsake())
    _OPEN.clear()


os.register_at_fork(after_in_child=_forsake_all)
