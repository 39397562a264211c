"""A PostgreSQL that is not there right now is a 503 (StoreUnavailable), and the pool heals.

A private server (`PostgresServer`), ours to restart as a standby: one that takes no
connections answers every attempt with 57P03 "the database system is not accepting
connections", just as a server starting up or recovering from a crash does; a hot
standby takes reads and refuses writes (25006), as a demoted primary does mid-failover.
Promoting it is the failover: the same engine then works without being told.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime

import asyncpg
import pytest
from sqlalchemy.exc import DBAPIError

from authward.accounts.models import User
from authward.accounts.sql import SqlUserStore
from authward.errors import StoreUnavailable
from authward.storage.migrate import upgrade
from authward.storage.sql import create_engine, means_unavailable, translated_errors
from tests.conftest import unavailable
from tests.storage.postgres_servers import START_ERRORS, PostgresServer

HEALS_WITHIN = 20  # attempts, one a connection the pool may still hold


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


@pytest.fixture
async def users(server: PostgresServer) -> AsyncIterator[SqlUserStore]:
    """A user store on the private server, its schema made while it was a primary."""
    engine = create_engine(server.url)
    await upgrade(engine)
    yield SqlUserStore(engine)
    await engine.dispose()


def a_user(email: str) -> User:
    return User(
        id=email.split("@")[0],
        email=email,
        password_hash="$argon2id$not-a-real-hash",
        created_at=datetime.now(UTC),
    )


async def eventually_none(users: SqlUserStore, email: str) -> None:
    """Look `email` up until the store answers (dead pooled connections fail first)."""
    for _ in range(HEALS_WITHIN):
        try:
            assert await users.get_by_email(email) is None
            return
        except StoreUnavailable:
            continue
    raise AssertionError("the pool did not heal")


async def test_a_server_that_takes_no_connections_is_unavailable_then_heals(
    server: PostgresServer, users: SqlUserStore
) -> None:
    assert await users.get_by_email("ada@example.com") is None  # a pooled connection
    server.stop()
    server.start(standby=True, hot_standby=False)
    for _ in range(3):  # the old connection (closed), then new ones refused with 57P03
        with pytest.raises(StoreUnavailable) as refused:
            await users.get_by_email("ada@example.com")
    assert "not accepting connections" in str(refused.value.__cause__)
    server.promote()  # the failover
    await eventually_none(users, "ada@example.com")
    await users.add(a_user("ada@example.com"))


async def test_writes_to_a_read_only_standby_are_unavailable_until_promoted(
    server: PostgresServer, users: SqlUserStore
) -> None:
    server.stop()
    server.start(standby=True)  # hot: reads answer, writes are refused (25006)
    await eventually_none(users, "ada@example.com")
    with pytest.raises(StoreUnavailable) as refused:
        await users.add(a_user("ada@example.com"))
    assert "read-only transaction" in str(refused.value.__cause__)
    server.promote()
    await users.add(a_user("ada@example.com"))
    assert await users.get_by_email("ada@example.com") is not None


async def test_a_killed_postmaster_restarted_is_unavailable_then_heals(
    server: PostgresServer, users: SqlUserStore
) -> None:
    await users.add(a_user("ada@example.com"))
    server.kill_postmaster()
    other = create_engine(server.url)
    try:
        with pytest.raises(StoreUnavailable):  # refused: nothing listens
            async with translated_errors(), other.connect():
                pass
    finally:
        await other.dispose()
    server.start()
    await asyncio.sleep(0.1)  # the event loop reads the closed sockets, as a server's does
    # The pooled connection died with the server: it is swapped at checkout, not a 503.
    user = await users.get_by_email("ada@example.com")
    assert user is not None and user.id == "ada"


async def test_a_terminated_backend_is_swapped_at_checkout(
    server: PostgresServer, users: SqlUserStore
) -> None:
    """An operator's pg_terminate_backend (57P01) closes the pooled connection: the next
    request gets a new one, with no round trip to find out and no 503."""
    assert await users.get_by_email("ada@example.com") is None
    admin = await asyncpg.connect(server.url)
    try:
        pids = await admin.fetch(
            "SELECT pid, pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()"
        )
        assert len(pids) == 1
        for _ in range(200):  # until the backend has exited and closed its socket
            gone = "SELECT count(*) = 0 FROM pg_stat_activity WHERE pid = $1"
            if await admin.fetchval(gone, pids[0]["pid"]):
                break
            await asyncio.sleep(0.05)
    finally:
        await admin.close()
    await asyncio.sleep(0.1)  # the event loop reads the closed socket
    assert await users.get_by_email("ada@example.com") is None


@pytest.mark.parametrize(
    ("sqlstate", "expected"),
    [
        ("57P01", True),  # admin shutdown
        ("57P02", True),  # crash shutdown
        ("57P03", True),  # cannot connect now: starting up, recovering, a cold standby
        ("08006", True),  # connection failure
        ("25006", True),  # read-only: a standby
        ("53300", True),  # too many connections
        ("57014", True),  # statement timeout
        ("23505", False),  # a unique violation is the caller's business
        ("42P01", False),  # no such table: a bug, not an outage
        (None, False),
    ],
)
def test_which_sqlstates_mean_unavailable(sqlstate: str | None, expected: bool) -> None:
    assert means_unavailable(sqlstate) is expected


async def test_a_plain_dbapi_error_with_an_outage_sqlstate_is_translated() -> None:
    """Engines made without create_engine's hooks (a migration's) are covered too."""

    class StartingUp(Exception):
        sqlstate = "57P03"

    with pytest.raises(StoreUnavailable):
        async with translated_errors():
            raise DBAPIError("connect", None, StartingUp("the database system is starting up"))


async def test_a_read_by_key_is_unavailable_while_the_server_is_down_then_heals(
    server: PostgresServer, users: SqlUserStore
) -> None:
    """`get` goes through the driver itself, on connections of its own beside the pool
    (authward.storage.reads): a server that went away is still a 503, never a 500, and
    the reads heal once it is back."""
    await users.add(a_user("ada@example.com"))
    assert await users.get("ada") is not None
    server.kill_postmaster()
    await asyncio.sleep(0.1)  # the event loop reads the closed sockets
    with pytest.raises(StoreUnavailable):
        await users.get("ada")
    server.start()
    for _ in range(HEALS_WITHIN):
        try:
            found = await users.get("ada")
            break
        except StoreUnavailable:
            continue
    else:
        raise AssertionError("the pool did not heal")
    assert found is not None and found.email == "ada@example.com"
