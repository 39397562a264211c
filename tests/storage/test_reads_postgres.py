"""One-hop key reads (`authward.storage.reads`) on PostgreSQL: a few connections of their
own per engine, that see every commit, stay within their bound, close with the engine,
survive a cancelled read and a server that went away, and stay in their event loop.

Each test has a database of its own on the shared server, so the reads' connections can
be counted in pg_stat_activity (by their application_name, in that database); the fault
test, a private server (`PostgresServer`).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import warnings
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from sqlalchemy import JSON, Float, String, bindparam, cast, func, select, table
from sqlalchemy.ext.asyncio import AsyncEngine

from authward import crypto
from authward.accounts.models import User
from authward.accounts.sql import SqlUserStore
from authward.clock import FrozenClock
from authward.errors import StoreUnavailable
from authward.sessions.sql import SqlSessionStore
from authward.storage import reads
from authward.storage.migrate import upgrade
from authward.storage.sql import create_engine
from tests.conftest import POSTGRES_ADMIN_URL, unavailable
from tests.contracts.test_session_store import make_session
from tests.storage.postgres_servers import START_ERRORS, PostgresServer

GONE_WITHIN = 200  # looks at pg_stat_activity, 50 ms apart, for a backend to exit


@pytest.fixture
async def database() -> AsyncIterator[str]:
    """The URL of a migrated database of this test's own, dropped after."""
    name = f"authward_reads_{secrets.token_hex(4)}"
    try:
        admin = await asyncpg.connect(POSTGRES_ADMIN_URL, timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        unavailable("PostgreSQL", exc)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        url = f"{POSTGRES_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
        engine = create_engine(url)
        try:
            await upgrade(engine)
        finally:
            await engine.dispose()
        yield url
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture
async def engine(database: str) -> AsyncIterator[AsyncEngine]:
    made = create_engine(database)
    yield made
    await made.dispose()


async def readers_open(url: str, name: str = reads.APPLICATION_NAME) -> int:
    """How many connections to `url`'s database named `name` the server holds."""
    admin = await asyncpg.connect(url, timeout=5)
    try:
        count: int = await admin.fetchval(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND application_name = $1",
            name,
        )
        return count
    finally:
        await admin.close()


async def until_closed(url: str) -> int:
    """The reads' connections still open once they are gone, or after GONE_WITHIN looks:
    a backend exits on its own time after its client hangs up."""
    for _ in range(GONE_WITHIN):
        if (left := await readers_open(url)) == 0:
            return 0
        await asyncio.sleep(0.05)
    return left


async def test_reads_see_the_latest_commit_on_connections_of_their_own(
    database: str, engine: AsyncEngine, clock: FrozenClock
) -> None:
    store = SqlSessionStore(engine)
    session = make_session(clock.now(), "ada")
    assert await store.get(session.id_digest) is None
    await store.add(session)
    assert await store.get(session.id_digest) == session
    later = clock.now() + timedelta(minutes=1)
    await store.touch(session.id_digest, later, later + timedelta(minutes=30))
    slid = await store.get(session.id_digest)
    assert slid is not None and slid.last_seen_at == later
    assert await store.remove(session.id_digest)
    assert await store.get(session.id_digest) is None
    assert await readers_open(database) == 1  # sequential reads: one connection, reused


async def test_the_engines_connect_args_are_the_reads_too(database: str) -> None:
    name = f"authward-test-{secrets.token_hex(3)}"
    engine = create_engine(database, connect_args={"server_settings": {"application_name": name}})
    try:
        assert await SqlSessionStore(engine).get(crypto.digest("x")) is None
        assert await readers_open(database, name) == 1  # the read's; the pool opened none
        assert await readers_open(database) == 0
    finally:
        await engine.dispose()


# A read that counts the named prepared statements of the connection it runs on (its own
# among them, if asyncpg prepared it under a name; an unnamed one is not listed).
PREPARED = select(func.count().label("n")).select_from(table("pg_prepared_statements"))


async def test_statements_are_prepared_once_per_connection(engine: AsyncEngine) -> None:
    assert await reads.RowReader(engine, PREPARED).one() == {"n": 1}


@pytest.mark.parametrize(
    "pooler",
    [
        {"url": "?prepared_statement_cache_size=0"},  # SQLAlchemy's way
        {"connect_args": {"prepared_statement_name_func": lambda: f"__s{secrets.token_hex(4)}"}},
        {"connect_args": {"statement_cache_size": 0}},  # asyncpg's way
    ],
)
async def test_an_engine_for_a_transaction_mode_pooler_gets_no_named_statements(
    database: str, pooler: dict[str, object]
) -> None:
    connect_args = pooler.get("connect_args", {})
    engine = create_engine(database + str(pooler.get("url", "")), connect_args=connect_args)
    try:
        assert await reads.RowReader(engine, PREPARED).one() == {"n": 0}
        assert await readers_open(database) == 1  # on the reads' own connection
    finally:
        await engine.dispose()


async def test_json_reads_as_the_engine_reads_it(database: str, engine: AsyncEngine) -> None:
    """asyncpg decodes json to text by itself; SQLAlchemy's connections, to values."""
    reader = reads.RowReader(engine, select(cast(bindparam("v", type_=String), JSON).label("j")))
    assert await reader.one(v='{"a": [1, "x"]}') == {"j": {"a": [1, "x"]}}


async def test_many_concurrent_reads_stay_within_the_bound(
    database: str, engine: AsyncEngine, clock: FrozenClock
) -> None:
    store = SqlSessionStore(engine)
    sessions = [
        replace(make_session(clock.now(), f"user-{i}"), id_digest=crypto.digest(str(i)))
        for i in range(40)
    ]
    for session in sessions:
        await store.add(session)
    unknown = [crypto.digest(f"unknown-{i}") for i in range(40)]
    for _ in range(3):
        found = await asyncio.gather(
            *(store.get(s.id_digest) for s in sessions), *(store.get(d) for d in unknown)
        )
        assert found == [*sessions, *([None] * len(unknown))]
    assert 1 <= await readers_open(database) <= reads.POSTGRES_READERS


async def test_a_read_that_waits_for_a_connection_as_long_as_the_pool_would_is_unavailable(
    database: str,
) -> None:
    """Every connection busy (here: each sleeping in the server) past the engine's pool
    timeout: a 503, as for the pool's own connections, not a request that hangs."""
    engine = create_engine(database, postgres_pool_timeout=0.2)
    slow = reads.RowReader(engine, select(func.pg_sleep(bindparam("s", type_=Float))))
    busy = [asyncio.ensure_future(slow.one(s=5)) for _ in range(reads.POSTGRES_READERS)]
    try:
        admin = await asyncpg.connect(database, timeout=5)
        try:
            sleeping = "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep%'"
            for _ in range(GONE_WITHIN):  # until the server runs them all
                if await admin.fetchval(sleeping) == reads.POSTGRES_READERS:
                    break
                await asyncio.sleep(0.05)
            else:
                raise AssertionError("the slow reads never all reached the server")
        finally:
            await admin.close()
        with pytest.raises(StoreUnavailable) as waited:
            await SqlSessionStore(engine).get(crypto.digest("x"))
        assert isinstance(waited.value.__cause__, TimeoutError)
    finally:
        for reading in busy:
            reading.cancel()
        await asyncio.gather(*busy, return_exceptions=True)
        await engine.dispose()


async def test_dispose_closes_the_reads_connections_and_the_next_read_opens_them_again(
    database: str, engine: AsyncEngine
) -> None:
    users = SqlUserStore(engine)
    await users.add(User("ada", "ada@example.com", "$argon2id$x", datetime.now(UTC)))
    await asyncio.gather(*(users.get("ada") for _ in range(10)))
    assert await readers_open(database) >= 1
    await engine.dispose()
    assert await until_closed(database) == 0
    user = await users.get("ada")
    assert user is not None and user.email == "ada@example.com"
    assert await readers_open(database) == 1


async def test_a_cancelled_read_leaves_no_broken_connection_for_the_next(
    database: str, engine: AsyncEngine, clock: FrozenClock
) -> None:
    store = SqlSessionStore(engine)
    session = make_session(clock.now(), "ada")
    await store.add(session)
    assert await store.get(session.id_digest) == session  # the one connection, idle
    slow = reads.RowReader(engine, select(func.pg_sleep(bindparam("s", type_=Float))))
    reading = asyncio.ensure_future(slow.one(s=30))
    admin = await asyncpg.connect(database, timeout=5)
    try:
        for _ in range(GONE_WITHIN):  # until the server runs it
            sleeping = "SELECT pid FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep%'"
            if (cancelled_on := await admin.fetchval(sleeping)) is not None:
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("the slow read never reached the server")
    finally:
        await admin.close()
    reading.cancel()
    with pytest.raises(asyncio.CancelledError):
        await reading
    # The next read takes the last connection given back, were it the cancelled one's.
    assert await store.get(session.id_digest) == session
    pid = reads.RowReader(engine, select(func.pg_backend_pid().label("pid")))
    assert await pid.one() != {"pid": cancelled_on}  # it was discarded, not reused


async def test_a_read_from_another_event_loop_does_not_use_this_loops_connections(
    database: str, engine: AsyncEngine, clock: FrozenClock
) -> None:
    """A connection belongs to the loop that opened it. The other loop's read goes through
    the engine's pool (empty until then: the writes have an engine of their own), and its
    dispose ends this loop's connections in this loop."""
    session = make_session(clock.now(), "ada")
    await SqlSessionStore(engine).add(session)
    readers_only = create_engine(database)
    store = SqlSessionStore(readers_only)
    try:
        assert await store.get(session.id_digest) == session  # this loop's connection

        async def in_another_loop() -> object:
            try:
                return await store.get(session.id_digest)
            finally:
                await readers_only.dispose()

        found = await asyncio.to_thread(asyncio.run, in_another_loop())
        assert found == session
        assert await until_closed(database) == 0
        assert await store.get(session.id_digest) == session  # opened again, in this loop
    finally:
        await readers_only.dispose()


async def test_a_forked_child_leaves_the_parents_connections_alone(
    database: str, engine: AsyncEngine, clock: FrozenClock
) -> None:
    """Their sockets are the parent's too: the child forgets them (never uses nor closes
    them), and opens its own should it read; the parent reads on as before."""
    store = SqlSessionStore(engine)
    session = make_session(clock.now(), "ada")
    await store.add(session)
    assert await store.get(session.id_digest) == session
    assert reads._POSTGRES  # this loop's connections, open
    with warnings.catch_warnings():
        # Python 3.12+ warns of forking a process with threads (a lock one of them held
        # stays held in the child): this child only looks at a dict and exits.
        warnings.simplefilter("ignore", DeprecationWarning)
        child = os.fork()
    if child == 0:  # the child only reports, by its exit status
        os._exit(0 if not reads._POSTGRES and reads._FORSAKEN else 1)
    _, status = await asyncio.to_thread(os.waitpid, child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert await store.get(session.id_digest) == session
    assert await readers_open(database) == 1


# --- a server that goes away --------------------------------------------------------------


@pytest.fixture
def server() -> Iterator[PostgresServer]:
    try:
        made = PostgresServer()
    except START_ERRORS as exc:
        unavailable("a private PostgreSQL", exc)
    try:
        made.start()
    except START_ERRORS as exc:
        made.remove()
        unavailable("a private PostgreSQL", exc)
    yield made
    made.remove()


@pytest.mark.parametrize("mode", ["fast", "immediate"])
async def test_a_server_that_went_away_is_unavailable_and_the_next_read_once_back_succeeds(
    server: PostgresServer, mode: str
) -> None:
    engine = create_engine(server.url)
    try:
        await upgrade(engine)
        users = SqlUserStore(engine)
        await users.add(User("ada", "ada@example.com", "$argon2id$x", datetime.now(UTC)))
        assert await users.get("ada") is not None  # a connection of the reads, idle
        server.stop(mode)
        with pytest.raises(StoreUnavailable):  # on the connection the server closed
            await users.get("ada")
        with pytest.raises(StoreUnavailable):  # a new one, refused
            await users.get("ada")
        server.start()
        user = await users.get("ada")
        assert user is not None and user.email == "ada@example.com"
    finally:
        await engine.dispose()


async def test_a_connection_the_server_closed_while_idle_is_replaced_without_a_503(
    server: PostgresServer,
) -> None:
    """A restart (or a pg_terminate_backend) closes the idle connection: asyncpg knows it
    closed as soon as the event loop reads the socket, so the next read opens another
    instead of failing on it."""
    engine = create_engine(server.url)
    try:
        await upgrade(engine)
        users = SqlUserStore(engine)
        await users.add(User("ada", "ada@example.com", "$argon2id$x", datetime.now(UTC)))
        assert await users.get("ada") is not None
        server.stop()
        server.start()
        await asyncio.sleep(0.1)  # the event loop reads the closed socket, as a server's does
        user = await users.get("ada")
        assert user is not None and user.email == "ada@example.com"
    finally:
        await engine.dispose()
