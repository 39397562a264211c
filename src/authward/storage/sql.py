"""The SQL side of storage: one engine per Settings, one MetaData, UTC timestamps.

SQLite (through aiosqlite, in WAL mode) is the embedded default; PostgreSQL (through
asyncpg) works by URL alone. Plain ``sqlite://`` and ``postgresql://`` URLs are given their
async drivers here, so operators never have to know the driver names.
"""

from __future__ import annotations

import logging
import os
import stat
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import DateTime, MetaData, event
from sqlalchemy.engine import Dialect, Engine, ExceptionContext, make_url, processors
from sqlalchemy.exc import (
    DataError,
    DBAPIError,
    DisconnectionError,
    InterfaceError,
    OperationalError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import PoolResetState
from sqlalchemy.types import TypeDecorator

from authward.errors import InvalidInput, StoreUnavailable

security_log = logging.getLogger("authward.security")

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UtcDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime on every backend (SQLite stores it naive, we re-attach UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def result_processor(self, dialect: Dialect, coltype: object) -> Any:
        """On SQLite, SQLAlchemy's parse (`datetime.fromisoformat`) and ours in one call
        rather than three (TypeDecorator's wrapper, the parse, process_result_value): a
        session row has five of these, read on the event loop for every request without
        a session cache."""
        impl = self.impl_instance.dialect_impl(dialect)
        if impl.result_processor(dialect, coltype) is not processors.str_to_datetime:
            return super().result_processor(dialect, coltype)
        parse = datetime.fromisoformat

        def process(value: str | None) -> datetime | None:
            if value is None:
                return None
            parsed = parse(value)
            return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)

        return process


def async_url(url: str) -> str:
    """Give a plain URL its async driver: ``sqlite`` → aiosqlite, ``postgresql`` → asyncpg."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite" and parsed.drivername == "sqlite":
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    elif backend in {"postgresql", "postgres"} and "+" not in parsed.drivername:
        parsed = parsed.set(drivername="postgresql+asyncpg")
    return parsed.render_as_string(hide_password=False)


# A fixed set of SQLite connections, none opened and closed per burst: each holds a page
# cache and a thread of its own (aiosqlite), and churning them under load made the
# server's memory creep (benchmarks/soak.py). SQLite has one writer at a time anyway.
SQLITE_POOL_SIZE: Final = 8


def create_engine(
    url: str,
    *,
    postgres_pool_size: int = 10,
    postgres_pool_timeout: float = 30.0,
    postgres_timeout: float = 0.0,
    **options: Any,
) -> AsyncEngine:
    """Create the async engine for `url`, with SQLite tuned for a concurrent server.

    PostgreSQL gets a pool of `postgres_pool_size` connections, and as many again in a
    burst; a request that waits `postgres_pool_timeout` for one fails as StoreUnavailable
    (503). With `postgres_timeout` (seconds; 0 for none), so does a statement or a
    connection attempt that takes longer: a database that stops answering, or a lock held
    too long, cannot hold requests (and their connections) forever. A SQLite file gets
    SQLITE_POOL_SIZE connections and no more (unless `options` say otherwise); an
    in-memory database, SQLAlchemy's single shared connection.
    """
    full_url = async_url(url)
    parsed = make_url(full_url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        file_backed = database not in (None, "", ":memory:")
        if file_backed:
            options.setdefault("pool_size", SQLITE_POOL_SIZE)
            options.setdefault("max_overflow", 0)
        # The pool's rollback on return, only when SQLite is in a transaction
        # (_end_open_transaction): after a commit it is a thread hand-off for nothing.
        options.setdefault("pool_reset_on_return", None)
        engine = create_async_engine(
            full_url, connect_args={"timeout": 30, "check_same_thread": False}, **options
        )
        if file_backed and database and not parsed.query.get("uri"):
            # Absolute now, as SQLAlchemy makes the path it opens. Checked before every new
            # connection, not once: SQLite must never be the one to create the file.
            path = os.path.abspath(database)
            event.listen(engine.sync_engine, "do_connect", lambda *_: keep_owner_only(path))
        event.listen(engine.sync_engine, "connect", _tune_sqlite)
        if options["pool_reset_on_return"] is None:
            event.listen(engine.sync_engine.pool, "reset", _end_open_transaction)
        return engine
    # No pool_pre_ping: its round trip on every checkout cost 0.48 ms of 1.17 ms for a
    # one-row query on loopback. A connection the server closed is known closed without
    # one (_discard_closed); one that dies unnoticed fails its request with a 503, and
    # the disconnect it raises (_recognise_disconnects) makes the pool replace every
    # connection it held: the pool heals after a restart or a failover by itself.
    options.setdefault("pool_size", postgres_pool_size)
    options.setdefault("max_overflow", postgres_pool_size)
    options.setdefault("pool_timeout", postgres_pool_timeout)
    if postgres_timeout > 0 and parsed.get_driver_name() == "asyncpg":
        # asyncpg's own timeouts, on the client: they hold even when the server (or the
        # network to it) answers nothing at all, which a server-side timeout cannot.
        connect_args = options.setdefault("connect_args", {})
        connect_args.setdefault("command_timeout", postgres_timeout)
        connect_args.setdefault("timeout", postgres_timeout)
    known = not _OWN_CONNECTOR & options.keys()
    given = dict(options.get("connect_args", {}))
    engine = create_async_engine(full_url, **options)
    if known:
        _CONNECT_ARGS[engine.sync_engine] = given
    event.listen(engine.sync_engine, "handle_error", _recognise_disconnects)
    event.listen(engine.sync_engine.pool, "checkout", _discard_closed)
    return engine


# What each PostgreSQL engine made here connects with beyond its URL: the reads by key
# (authward.storage.reads) open connections of their own, as the engine's pool would.
_CONNECT_ARGS: weakref.WeakKeyDictionary[Engine, dict[str, Any]] = weakref.WeakKeyDictionary()
# Options that make the connections some other way: what that way does is not known here.
_OWN_CONNECTOR: Final = frozenset({"creator", "async_creator"})


def connect_args(engine: AsyncEngine) -> dict[str, Any] | None:
    """The ``connect_args`` `engine` was made with by `create_engine`, if it was (None
    for an engine made elsewhere, or with a creator of its own: then they are unknown)."""
    return _CONNECT_ARGS.get(engine.sync_engine)


# PostgreSQL's SQLSTATEs (its manual, appendix A) that say "the database is not there
# right now". Class 08 (connection exceptions) and these end the connection too: 57P01
# admin shutdown, 57P02 crash shutdown, 57P03 cannot connect now (starting up, shutting
# down, in recovery, a standby that takes no connections), 57P04 database dropped, 57P05
# idle session timeout, and 25006 read-only transaction (a standby: a failover not
# finished, or a primary demoted). The pool must let such a connection go.
_GONE_CLASSES: Final = ("08",)
_GONE: Final = frozenset({"57P01", "57P02", "57P03", "57P04", "57P05", "25006"})
# Here, but not answering in time or out of room: class 53 (too many connections, out of
# memory, disk full), 57014 a statement cancelled (statement_timeout), 55P03 a lock not
# had in time (lock_timeout). The connection is still good.
_BUSY_CLASSES: Final = ("53",)
_BUSY: Final = frozenset({"57014", "55P03"})


def sqlstate(error: BaseException | None) -> str | None:
    """The SQLSTATE a driver's error carries (asyncpg and psycopg: ``sqlstate``), if any."""
    code = getattr(error, "sqlstate", None) or getattr(error, "pgcode", None)
    return code if isinstance(code, str) else None


def means_gone(code: str | None) -> bool:
    """Whether SQLSTATE `code` says the server, or this connection to it, is gone."""
    return code is not None and (code in _GONE or code.startswith(_GONE_CLASSES))


def means_unavailable(code: str | None) -> bool:
    """Whether SQLSTATE `code` says the database cannot serve right now (a 503)."""
    return means_gone(code) or (
        code is not None and (code in _BUSY or code.startswith(_BUSY_CLASSES))
    )


def _recognise_disconnects(context: ExceptionContext) -> None:
    # The asyncpg dialect knows a disconnect only by a connection already closed: a server
    # starting up (57P03) or read-only after a failover (25006) was not one, the error was
    # not StoreUnavailable but a 500, and the connection stayed in the pool.
    if not context.is_disconnect and means_gone(sqlstate(context.original_exception)):
        context.is_disconnect = True


def _discard_closed(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    # asyncpg notices a server that closed the connection (a restart, a kill) as soon as the
    # socket says so: such a connection is swapped for a new one at checkout, with no round
    # trip, instead of failing the request that drew it.
    driver_connection = getattr(dbapi_connection, "driver_connection", None)
    is_closed = getattr(driver_connection, "is_closed", None)
    if callable(is_closed) and is_closed():
        raise DisconnectionError("the server closed this connection")


# What SQLite keeps beside the database; it creates each with the database file's mode.
SQLITE_COMPANIONS: Final = ("-wal", "-shm", "-journal")


def keep_owner_only(database: str) -> None:
    """Make the SQLite file `database` (and what lies beside it) readable by its owner only.

    It holds password hashes, emails and the audit log. A missing file is created empty
    with mode 0600 (an empty file is a valid database), since SQLite itself would create
    it under the umask, usually 0644; its ``-wal`` and ``-shm`` then take the same mode
    from it. A file group or world could read is tightened, with one warning. A missing
    folder is left for SQLite to report, as it always has.
    """
    try:
        os.close(os.open(database, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass
    except OSError:
        return  # no folder, or not ours to write: SQLite's own error says which
    else:
        # Once per file (O_EXCL): an operator, or an app that embeds authward, learns
        # where the accounts now live, instead of finding a file appear in its folder.
        security_log.warning(
            "created the SQLite database %s (owner only): it holds accounts, password "
            "hashes and sessions (AUTHWARD_DATABASE_URL)",
            database,
            extra={"event": "database_created"},
        )
    for path in (database, *(database + suffix for suffix in SQLITE_COMPANIONS)):
        _tighten(path)


def _tighten(path: str) -> None:
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        return
    if mode & 0o077 == 0:
        return
    try:
        os.chmod(path, mode & 0o700)
    except OSError as exc:
        security_log.warning(
            "%s is readable by others (mode %04o) and could not be made owner-only: %s",
            path,
            mode,
            exc.strerror,
            extra={"event": "file_mode_open"},
        )
        return
    security_log.warning(
        "%s was readable by others (mode %04o): now %04o, owner only",
        path,
        mode,
        mode & 0o700,
        extra={"event": "file_mode_tightened"},
    )


def _end_open_transaction(dbapi_connection: Any, _record: Any, state: PoolResetState) -> None:
    """Roll back a connection coming back to the pool, if SQLite says a transaction is open.

    SQLAlchemy's own reset rolls back every connection that comes back after a commit or
    a read (Connection.close only skips it when it ended a transaction itself); on
    aiosqlite each is a trip to the connection's thread and back, 4 to 9 a login. SQLite
    knows without a trip (``in_transaction``, its autocommit flag): a connection that
    holds a transaction, and with it perhaps the write lock, is still rolled back.
    """
    if state.terminate_only or not state.asyncio_safe:
        return  # being discarded: the pool closes it, which ends its transaction
    if dbapi_connection.driver_connection.in_transaction:
        dbapi_connection.rollback()


def _tune_sqlite(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers proceed while one writer commits; NORMAL is durable in WAL mode
    # against process crashes (kill -9), which is what a server needs.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    # The page cache is per connection: 1 MiB each bounds a worker's at SQLITE_POOL_SIZE
    # MiB. At SQLite's default (2 MiB) the caches filling up as the file grew made the
    # soak's memory creep past its 10% bound; the OS page cache keeps the rest warm.
    cursor.execute("PRAGMA cache_size=-1024")
    cursor.close()


@asynccontextmanager
async def translated_errors(store: str = "database") -> AsyncIterator[None]:
    """Turn a database that does not answer into `StoreUnavailable` (a 503, never a 500).

    Not answering: no connection (refused, reset, timed out), a connection lost or
    invalidated, a pool with none free in time, or an error whose SQLSTATE says the server
    is gone, starting, read-only or out of resources (`means_unavailable`).

    A value the database refuses as data (SQLSTATE class 22: a NUL or a lone surrogate
    in text, on PostgreSQL) becomes `InvalidInput` (422). Every value a client sends is
    checked before it reaches a query, so this is the belt: it logs, without the value,
    that a check is missing somewhere.
    """
    try:
        yield
    # PoolTimeout: every pooled connection stayed busy past the pool's timeout (an
    # overloaded node, found by benchmarks/soak.py): a 503, like a database that is down.
    except (OperationalError, InterfaceError, OSError, TimeoutError, PoolTimeout) as exc:
        raise StoreUnavailable(store) from exc
    except DBAPIError as exc:
        # Whatever the class SQLAlchemy gave it: asyncpg's "starting up" is a plain
        # DBAPIError, and no engine hook sees the errors of an engine made elsewhere.
        if exc.connection_invalidated or means_unavailable(sqlstate(exc.orig)):
            raise StoreUnavailable(store) from exc
        if (code := data_exception(exc)) is not None:
            security_log.warning(
                "the database refused a value as data (SQLSTATE %s)",
                code,
                extra={"event": "unstorable_input"},
            )
            raise InvalidInput from exc
        raise


def data_exception(exc: DBAPIError) -> str | None:
    """The SQLSTATE of `exc` when it is a data exception (class 22), else None.

    asyncpg's refusals reach SQLAlchemy as a plain DBAPIError that carries the SQLSTATE:
    the server's 22021 for a NUL, asyncpg's own 22000 for text it cannot encode.
    """
    code = sqlstate(exc.orig)
    if code is not None and code.startswith("22"):
        return code
    return "22000" if isinstance(exc, DataError) else None


def storable_text(value: str) -> bool:
    """Whether `value` can be in a text column at all: PostgreSQL's text holds no NUL.

    A key that no row can hold names no row. A lookup by such a key (a handle from a
    URL) answers "none" without asking PostgreSQL, which would fail the statement (a 500).
    """
    return "\x00" not in value
