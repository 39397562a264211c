"""The push paths of the SQL bus: a revocation reaches a started node with no poll at all.

Nothing here calls `sync` on a receiving node: what arrives came by NOTIFY (PostgreSQL), by
a datagram (the processes of one machine on a SQLite file), or by the read of the table a
PostgreSQL listener makes when it (re)connects. The waits are for I/O between processes,
bounded far past anything a passing run needs; nothing asserts a duration.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from authward.clock import FrozenClock
from authward.revocation import samehost, wire
from authward.revocation.list import Revocation
from authward.revocation.postgres import APPLICATION_NAME, PostgresRevocationBus
from authward.revocation.samehost import SameHostRevocationBus
from authward.revocation.sql import SqlRevocationBus
from authward.storage.sql import create_engine
from tests.conftest import POSTGRES_ADMIN_URL

ARRIVAL = 10.0  # seconds: only reached when a test fails

Pushed = Callable[[], SqlRevocationBus]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def make_node(request: pytest.FixtureRequest, clock: FrozenClock, tmp_path: Path) -> Pushed:
    """A node's bus over one database, pushed the way it pushes (a plain function: it
    looks its engine up, see tests/contracts/conftest.py)."""
    engine: AsyncEngine = request.getfixturevalue(f"{request.param}_engine")
    if request.param == "postgres":
        return lambda: PostgresRevocationBus(engine, clock)
    directory = samehost.prepare(tmp_path / "bus")
    return lambda: SameHostRevocationBus(engine, clock, directory)


@pytest.fixture
async def new_node(make_node: Pushed) -> AsyncIterator[Pushed]:
    """Started nodes of one deployment, as servers start them; stopped after the test."""
    async with nodes(make_node) as new:
        yield new


@asynccontextmanager
async def nodes(make: Pushed) -> AsyncIterator[Pushed]:
    made: list[SqlRevocationBus] = []

    def new() -> SqlRevocationBus:
        bus = make()
        bus.start()
        made.append(bus)
        return bus

    try:
        yield new
    finally:
        for bus in made:
            await bus.close()


class Ear:
    """What a node heard, and a way to wait for it."""

    def __init__(self, bus: SqlRevocationBus) -> None:
        self.heard: list[Revocation] = []
        self._changed = asyncio.Event()
        bus.subscribe(self._hear)

    def _hear(self, revocation: Revocation) -> None:
        self.heard.append(revocation)
        self._changed.set()

    async def until(self, wanted: set[Revocation]) -> None:
        try:
            async with asyncio.timeout(ARRIVAL):
                while not wanted <= set(self.heard):
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            missing = sorted(r.subject for r in wanted - set(self.heard))
            raise AssertionError(f"not heard within {ARRIVAL} s: {missing}") from None


def family(clock: FrozenClock, name: str) -> Revocation:
    return Revocation("family", name, clock.now(), clock.now() + timedelta(minutes=5))


async def until_live(*buses: SqlRevocationBus) -> None:
    await until(lambda: all(getattr(bus, "live", False) for bus in buses))


async def until(condition: Callable[[], bool]) -> None:
    """Check `condition` every few milliseconds (it changes on another connection)."""
    async with asyncio.timeout(ARRIVAL):
        while True:
            if condition():
                return
            await asyncio.sleep(0.01)


async def test_a_revocation_reaches_every_other_node_without_a_poll(
    new_node: Pushed, clock: FrozenClock
) -> None:
    here, *others = new_node(), new_node(), new_node()
    await until_live(here, *others)
    ears = [Ear(other) for other in others]
    sent = {family(clock, "f1"), Revocation("sessions", "u 1", clock.now(), clock.now())}
    for each in sent:
        await here.publish(each)
    for ear in ears:
        await ear.until(sent)
    for other in others:
        await other.sync()  # the poll reads the rows it heard of: it passes them by
    for ear in ears:
        assert sorted(ear.heard, key=str) == sorted(sent, key=str)  # each once: not again


async def test_a_process_that_only_publishes_reaches_the_started_ones(
    new_node: Pushed, clock: FrozenClock
) -> None:
    """The command line (`authward users disable`) starts no listener, and still reaches
    every server at once."""
    there = new_node()
    await until_live(there)
    ear = Ear(there)
    command_line = new_node()
    await command_line.close()  # stopped: it publishes, as a CLI process does, nothing more
    sent = family(clock, "from-the-command-line")
    await command_line.publish(sent)
    await ear.until({sent})


# --- PostgreSQL: the listener's connection dies ----------------------------------------


@pytest.mark.postgres
async def test_what_was_published_while_the_listener_was_away_arrives_on_reconnection(
    postgres_engine: AsyncEngine, postgres_url: str, clock: FrozenClock
) -> None:
    """Killed with pg_terminate_backend, and kept out until the publish is done: its
    NOTIFY went to nobody, and the node reads the row when it listens again."""
    database = postgres_url.rsplit("/", 1)[1]
    async with nodes(lambda: PostgresRevocationBus(postgres_engine, clock)) as new:
        here, there = new(), new()
        await until_live(here, there)
        assert isinstance(there, PostgresRevocationBus)
        ear = Ear(there)
        admin = await asyncpg.connect(POSTGRES_ADMIN_URL)
        try:
            await admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false')
            killed = await admin.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = $1 AND application_name = $2",
                database,
                APPLICATION_NAME,
            )
            assert killed >= 2  # ours (a listener some other test left would come back too)
            await until(lambda: not (here.live or there.live))
            sent = family(clock, "in-the-gap")
            await here.publish(sent)  # through a connection of the engine's pool
        finally:
            await admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')
            await admin.close()
        await ear.until({sent})
        assert there.connects >= 2
        await until_live(here, there)
        after = family(clock, "after-the-gap")
        await here.publish(after)
        await ear.until({after})  # and it listens again


@pytest.mark.postgres
async def test_the_listener_connects_as_the_engines_pool_does(
    postgres_engine: AsyncEngine, postgres_url: str, clock: FrozenClock
) -> None:
    """The engine's ``connect_args`` (here: another role) reach the listening connection,
    as they reach the pool's: TLS settings or a role given there are not lost on it."""
    database = postgres_url.rsplit("/", 1)[1]
    role = f"authward_listener_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(POSTGRES_ADMIN_URL)
    await admin.execute(f'CREATE ROLE "{role}" LOGIN')
    engine = create_engine(postgres_url, connect_args={"user": role})
    try:
        async with postgres_engine.begin() as conn:  # the resync reads the table
            await conn.exec_driver_sql(
                f'GRANT SELECT, INSERT ON ALL TABLES IN SCHEMA public TO "{role}"'
            )
        async with nodes(lambda: PostgresRevocationBus(engine, clock)) as new:
            bus = new()
            await until_live(bus)
            # Other tests' listeners on this database (if any linger) are the admin's.
            listening = await admin.fetchval(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = $1 AND application_name = $2 AND usename = $3",
                database,
                APPLICATION_NAME,
                role,
            )
            assert listening == 1
    finally:
        await engine.dispose()
        async with postgres_engine.begin() as conn:
            await conn.exec_driver_sql(f'REVOKE ALL ON ALL TABLES IN SCHEMA public FROM "{role}"')
        await admin.execute(f'DROP ROLE "{role}"')
        await admin.close()


# --- the same machine: the socket directory ---------------------------------------------


def test_a_directory_open_to_others_is_refused(tmp_path: Path) -> None:
    """Whoever can send to a worker's socket could make it refuse tokens: the directory
    must be this user's alone."""
    for mode in (0o777, 0o750, 0o701):
        directory = tmp_path / f"open-{mode:o}"
        directory.mkdir()
        directory.chmod(mode)
        with pytest.raises(samehost.UnsafeDirectory, match="open to others"):
            samehost.prepare(directory)
    made = samehost.prepare(tmp_path / "new")
    assert made.stat().st_mode & 0o777 == 0o700


def test_a_symbolic_link_is_refused(tmp_path: Path) -> None:
    target = samehost.prepare(tmp_path / "target")
    link = tmp_path / "link"
    link.symlink_to(target)
    with pytest.raises(samehost.UnsafeDirectory, match="not a directory"):
        samehost.prepare(link)


def test_the_directory_sits_beside_the_database_or_in_the_temporary_one(
    tmp_path: Path,
) -> None:
    assert samehost.directory_for(str(tmp_path / "a.db")) == tmp_path / "a.db-bus"
    deep = tmp_path / ("d" * 100) / "a.db"
    far = samehost.directory_for(str(deep))
    assert far != samehost.directory_for(str(tmp_path / ("e" * 100) / "a.db"))
    assert len(os.fsencode(far / ("0" * 16 + ".sock"))) <= samehost.MAX_SOCKET_PATH


async def test_a_socket_left_by_a_dead_process_is_removed_and_the_rest_still_hear(
    sqlite_engine: AsyncEngine, clock: FrozenClock, tmp_path: Path
) -> None:
    directory = samehost.prepare(tmp_path / "bus")
    dead = directory / ("dead" * 4 + samehost.SUFFIX)
    left = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    left.bind(os.fspath(dead))
    left.close()  # its process ended without removing it
    async with nodes(lambda: SameHostRevocationBus(sqlite_engine, clock, directory)) as new:
        here, there = new(), new()
        ear = Ear(there)
        sent = family(clock, "f1")
        await here.publish(sent)
        await ear.until({sent})
    assert not dead.exists()
    assert list(directory.iterdir()) == []  # and each node removed its own at close


async def test_a_malformed_datagram_is_ignored(
    sqlite_engine: AsyncEngine, clock: FrozenClock, tmp_path: Path
) -> None:
    directory = samehost.prepare(tmp_path / "bus")
    async with nodes(lambda: SameHostRevocationBus(sqlite_engine, clock, directory)) as new:
        here, there = new(), new()
        ear = Ear(there)
        sender = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        (path,) = (p for p in directory.iterdir() if p.name != here_name(here))
        for junk in (b"", b"\xff" * 600, b"1 family 2 3", b"1 weird 2 3 x", b"x family 1 2 s"):
            sender.sendto(junk, os.fspath(path))
        sender.close()
        sent = family(clock, "after-junk")
        await here.publish(sent)
        await ear.until({sent})
        assert ear.heard == [sent]


def here_name(bus: SqlRevocationBus) -> str:
    assert isinstance(bus, SameHostRevocationBus)
    return bus.socket_name or ""


def test_the_wire_carries_a_revocation_whole() -> None:
    clock = FrozenClock()
    clock.advance(timedelta(microseconds=123_457))
    sent = Revocation("sessions", "a user: with spaces", clock.now(), clock.now())
    assert wire.decode(wire.encode(42, sent)) == (42, sent)
    assert wire.decode(wire.encode(42, sent).encode()) == (42, sent)
    assert wire.decode("1 family ² 3 s") is None
    assert wire.decode("1 family 99999999999999999999999 3 s") is None
