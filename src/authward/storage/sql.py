"""The SQL side of storage: one engine per Settings, one MetaData, UTC timestamps.

SQLite (through aiosqlite, in WAL mode) is the embedded default; PostgreSQL (through
asyncpg) works by URL alone. Plain ``sqlite://`` and ``postgresql://`` URLs are given their
async drivers here, so operators never have to know the driver names.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import DateTime, MetaData, event
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.types import TypeDecorator

from authward.errors import StoreUnavailable

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
        if parsed.database not in (None, "", ":memory:"):
            options.setdefault("pool_size", SQLITE_POOL_SIZE)
            options.setdefault("max_overflow", 0)
        engine = create_async_engine(
            full_url, connect_args={"timeout": 30, "check_same_thread": False}, **options
        )
        event.listen(engine.sync_engine, "connect", _tune_sqlite)
        return engine
    options.setdefault("pool_pre_ping", True)
    options.setdefault("pool_size", postgres_pool_size)
    options.setdefault("max_overflow", postgres_pool_size)
    options.setdefault("pool_timeout", postgres_pool_timeout)
    if postgres_timeout > 0 and parsed.get_driver_name() == "asyncpg":
        # asyncpg's own timeouts, on the client: they hold even when the server (or the
        # network to it) answers nothing at all, which a server-side timeout cannot.
        connect_args = options.setdefault("connect_args", {})
        connect_args.setdefault("command_timeout", postgres_timeout)
        connect_args.setdefault("timeout", postgres_timeout)
    return create_async_engine(full_url, **options)


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
    """Turn a database that does not answer into `StoreUnavailable` (a 503, never a 500)."""
    try:
        yield
    # PoolTimeout: every pooled connection stayed busy past the pool's timeout (an
    # overloaded node, found by benchmarks/soak.py): a 503, like a database that is down.
    except (OperationalError, InterfaceError, OSError, TimeoutError, PoolTimeout) as exc:
        raise StoreUnavailable(store) from exc
    except DBAPIError as exc:
        if exc.connection_invalidated:
            raise StoreUnavailable(store) from exc
        raise


def storable_text(value: str) -> bool:
    """Whether `value` can be in a text column at all: PostgreSQL's text holds no NUL.

    A key that no row can hold names no row. A lookup by such a key (a handle from a
    URL) answers "none" without asking PostgreSQL, which would fail the statement (a 500).
    """
    return "\x00" not in value
