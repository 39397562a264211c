"""The RevocationBus contract, on the in-process bus and on the polled SQL table."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from authward.clock import FrozenClock
from authward.revocation.bus import LocalRevocationBus, RevocationBus
from authward.revocation.list import Revocation
from authward.revocation.sql import LOOKBACK_POLLS, SqlRevocationBus, revocations

BACKENDS = ["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def engine(request: pytest.FixtureRequest) -> AsyncEngine | None:
    if request.param == "memory":
        return None
    found: AsyncEngine = request.getfixturevalue(f"{request.param}_engine")
    return found


def new_bus(engine: AsyncEngine | None, clock: FrozenClock) -> RevocationBus:
    return LocalRevocationBus() if engine is None else SqlRevocationBus(engine, clock)


def family(clock: FrozenClock, name: str, ttl: float = 300) -> Revocation:
    return Revocation("family", name, clock.now(), clock.now() + timedelta(seconds=ttl))


async def test_publish_delivers_here_at_once(
    engine: AsyncEngine | None, clock: FrozenClock
) -> None:
    bus = new_bus(engine, clock)
    heard: list[Revocation] = []
    bus.subscribe(heard.append)
    await bus.publish(family(clock, "f1"))
    assert [r.subject for r in heard] == ["f1"]
    await bus.sync()
    assert [r.subject for r in heard] == ["f1"]  # not twice


async def test_resync_returns_what_is_still_in_force(
    engine: AsyncEngine | None, clock: FrozenClock
) -> None:
    bus = new_bus(engine, clock)
    await bus.publish(family(clock, "short", ttl=10))
    await bus.publish(family(clock, "long", ttl=600))
    clock.advance(10)
    assert [r.subject for r in await bus.resync()] == (
        ["long"] if engine is not None else ["short", "long"]
    )  # the memory bus keeps everything until swept
    assert await bus.sweep(clock.now()) == 1
    assert [r.subject for r in await bus.resync()] == ["long"]


async def test_other_process_revocation_arrives_with_sync(
    sql_engine: AsyncEngine, clock: FrozenClock
) -> None:
    here, there = SqlRevocationBus(sql_engine, clock), SqlRevocationBus(sql_engine, clock)
    await here.resync()
    heard: list[Revocation] = []
    here.subscribe(heard.append)
    await there.publish(family(clock, "f1"))
    assert heard == []
    await here.sync()
    assert [r.subject for r in heard] == ["f1"]
    await here.sync()
    assert len(heard) == 1


async def test_row_committed_late_with_a_lower_id_is_not_missed(
    sql_engine: AsyncEngine, clock: FrozenClock
) -> None:
    """PostgreSQL ids are allotted at insert, not commit: a lower id can show up later."""
    bus = SqlRevocationBus(sql_engine, clock)
    await bus.resync()
    heard: list[str] = []
    bus.subscribe(lambda r: heard.append(r.subject))
    rows = [
        {"id": i, "kind": "family", "subject": f"f{i}", "at": clock.now(),
         "until": clock.now() + timedelta(minutes=5)}
        for i in (1, 2, 3)
    ]  # fmt: skip
    async with sql_engine.begin() as conn:
        await conn.execute(insert(revocations), [rows[0], rows[2]])
    await bus.sync()
    assert heard == ["f1", "f3"]
    for _ in range(LOOKBACK_POLLS - 2):
        await bus.sync()
    async with sql_engine.begin() as conn:
        await conn.execute(insert(revocations), [rows[1]])  # id 2 commits last
    await bus.sync()
    assert heard == ["f1", "f3", "f2"]


async def test_sql_bus_resync_after_restart(sql_engine: AsyncEngine, clock: FrozenClock) -> None:
    await SqlRevocationBus(sql_engine, clock).publish(family(clock, "f1"))
    restarted = SqlRevocationBus(sql_engine, clock)
    assert [r.subject for r in await restarted.resync()] == ["f1"]
    heard: list[Revocation] = []
    restarted.subscribe(heard.append)
    await restarted.sync()
    assert heard == []  # already known from resync


async def test_ids_are_never_reused_once_the_table_is_emptied(
    sql_engine: AsyncEngine, clock: FrozenClock
) -> None:
    """Issue 14: on SQLite a new row took id 1 again once every row was gone, below the
    floor of every node that had read the old ones, and no node ever read it."""
    bus = SqlRevocationBus(sql_engine, clock)
    await bus.publish(family(clock, "f1"))
    async with sql_engine.begin() as conn:
        first = (await conn.execute(select(revocations.c.id))).scalar_one()
        await conn.execute(delete(revocations))
    await bus.publish(family(clock, "f2"))
    async with sql_engine.connect() as conn:
        second = (await conn.execute(select(revocations.c.id))).scalar_one()
    assert second > first


async def test_a_table_that_went_backwards_is_read_again_from_its_first_row(
    sql_engine: AsyncEngine, clock: FrozenClock, caplog: pytest.LogCaptureFixture
) -> None:
    """A recreated table (or one restored from a backup) hands out ids this node already
    passed: it must notice, say so once, and read every row, not skip the ones it passed."""
    here, there = SqlRevocationBus(sql_engine, clock), SqlRevocationBus(sql_engine, clock)
    await here.resync()
    heard: list[str] = []
    here.subscribe(lambda r: heard.append(r.subject))
    for name in ("f1", "f2", "f3"):
        await there.publish(family(clock, name))
    for _ in range(LOOKBACK_POLLS):  # a node that has run a while: its floor is up too
        await here.sync()
    async with sql_engine.begin() as conn:
        await conn.run_sync(revocations.drop)
        await conn.run_sync(revocations.create)  # ids start at 1 again, on either backend
    await there.publish(family(clock, "after"))
    with caplog.at_level(logging.WARNING, logger="authward.security"):
        await here.sync()
        await here.sync()
    assert heard == ["f1", "f2", "f3", "after"]
    assert len(rereads(caplog)) == 1  # once, not at every poll
    await there.publish(family(clock, "later"))
    await here.sync()
    assert heard == ["f1", "f2", "f3", "after", "later"]


async def test_a_sweep_that_takes_every_row_leaves_the_newest_as_the_high_mark(
    sql_engine: AsyncEngine, clock: FrozenClock, caplog: pytest.LogCaptureFixture
) -> None:
    """An emptied table must not look like one that went backwards: no false alarm and no
    full read after every quiet spell."""
    here, there = SqlRevocationBus(sql_engine, clock), SqlRevocationBus(sql_engine, clock)
    await here.resync()
    heard: list[str] = []
    here.subscribe(lambda r: heard.append(r.subject))
    for name in ("f1", "f2", "f3"):
        await there.publish(family(clock, name, ttl=10))
    await here.sync()
    clock.advance(60)
    await there.sweep(clock.now())
    assert await there.resync() == []  # nothing left in force
    with caplog.at_level(logging.WARNING, logger="authward.security"):
        await here.sync()  # a quiet spell: nothing new since the sweep
        await there.publish(family(clock, "f4"))
        await here.sync()
    assert heard == ["f1", "f2", "f3", "f4"]
    assert rereads(caplog) == []


def rereads(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if getattr(r, "event", None) == "revocations_reread"]
