"""One-hop key reads (`authward.storage.reads`) on a SQLite file: batched reader threads
that answer each request its own row, see every commit, fail as a 503, survive failures
and cancellations, end with the engine and do not cross a fork."""

from __future__ import annotations

import asyncio
import gc
import os
import warnings
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from authward import crypto
from authward.clock import FrozenClock
from authward.errors import StoreUnavailable
from authward.sessions.models import Session
from authward.sessions.sql import SqlSessionStore
from authward.storage import reads
from authward.storage.migrate import upgrade
from authward.storage.sql import create_engine
from tests.contracts.test_session_store import make_session

Stored = tuple[AsyncEngine, SqlSessionStore, Session]


@pytest.fixture
async def stored(tmp_path: Path, clock: FrozenClock) -> AsyncIterator[Stored]:
    """A migrated SQLite file holding one session, its engine disposed of at the end."""
    engine = create_engine(f"sqlite:///{tmp_path}/reads.db")
    try:
        await upgrade(engine)
        store = SqlSessionStore(engine)
        session = make_session(clock.now(), "ada")
        await store.add(session)
        yield engine, store, session
    finally:
        await engine.dispose()


async def test_concurrent_reads_each_get_their_own_row(tmp_path: Path, clock: FrozenClock) -> None:
    engine = create_engine(f"sqlite:///{tmp_path}/reads.db")
    try:
        await upgrade(engine)
        store = SqlSessionStore(engine)
        sessions = [
            replace(make_session(clock.now(), f"user-{i}"), id_digest=crypto.digest(str(i)))
            for i in range(60)
        ]
        for session in sessions:
            await store.add(session)
        unknown = [crypto.digest(f"unknown-{i}") for i in range(20)]
        found = await asyncio.gather(
            *(store.get(s.id_digest) for s in sessions), *(store.get(d) for d in unknown)
        )
        assert found == [*sessions, *([None] * len(unknown))]
    finally:
        await engine.dispose()


async def test_a_read_sees_the_latest_commit(stored: Stored, clock: FrozenClock) -> None:
    _, store, session = stored
    assert await store.get(session.id_digest) == session
    later = clock.now() + timedelta(minutes=1)
    await store.touch(session.id_digest, later, later + timedelta(minutes=30))
    slid = await store.get(session.id_digest)
    assert slid is not None and slid.last_seen_at == later
    assert await store.remove(session.id_digest)
    assert await store.get(session.id_digest) is None


async def test_a_database_that_cannot_be_read_is_unavailable(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path}/never-migrated.db")
    try:
        with pytest.raises(StoreUnavailable):  # no such table: SQLite's OperationalError
            await SqlSessionStore(engine).get(crypto.digest("x"))
    finally:
        await engine.dispose()


async def test_a_cancelled_read_leaves_the_others_answered(stored: Stored) -> None:
    _, store, session = stored
    tasks = [asyncio.ensure_future(store.get(session.id_digest)) for _ in range(10)]
    tasks[3].cancel()
    done = await asyncio.gather(*tasks, return_exceptions=True)
    assert isinstance(done[3], asyncio.CancelledError)
    assert [d for i, d in enumerate(done) if i != 3] == [session] * 9


async def test_the_reader_threads_close_with_the_engine_and_come_back(stored: Stored) -> None:
    engine, store, session = stored
    assert await store.get(session.id_digest) == session
    assert engine.sync_engine in reads._OPEN
    await engine.dispose()
    assert engine.sync_engine not in reads._OPEN
    assert await store.get(session.id_digest) == session  # opened again


async def test_a_failed_read_leaves_its_thread_serving(tmp_path: Path, clock: FrozenClock) -> None:
    engine = create_engine(f"sqlite:///{tmp_path}/reads.db")
    try:
        store = SqlSessionStore(engine)
        with pytest.raises(StoreUnavailable):  # no table yet
            await store.get(crypto.digest("x"))
        threads = reads._OPEN[engine.sync_engine]
        started = list(threads._threads)
        await upgrade(engine)
        session = make_session(clock.now(), "ada")
        await store.add(session)
        assert await store.get(session.id_digest) == session
        assert threads._threads == started and all(t.is_alive() for t in started)
    finally:
        await engine.dispose()


async def test_reads_cancelled_at_every_step_leave_nothing_behind(stored: Stored) -> None:
    engine, store, session = stored
    for turns in range(6):  # cancelled before the hand-over, while read, once answered
        task = asyncio.ensure_future(store.get(session.id_digest))
        for _ in range(turns):
            await asyncio.sleep(0)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert await store.get(session.id_digest) == session
    threads = reads._OPEN[engine.sync_engine]
    assert threads._waiting == []
    assert len(threads._threads) <= reads.SQLITE_READERS


async def test_closed_threads_end_and_refuse_a_late_read(stored: Stored) -> None:
    """A read given the threads just before another thread disposed of the engine is a
    503, not a read that waits for ever."""
    engine, store, session = stored
    assert await store.get(session.id_digest) == session
    threads = reads._OPEN[engine.sync_engine]
    await engine.dispose()
    assert threads._threads and not any(t.is_alive() for t in threads._threads)
    assert threads._connections == []
    with pytest.raises(StoreUnavailable):
        await threads.read(store._read._sql, [session.id_digest])
    pipe = (threads._wake, threads._tokens)
    os.fstat(pipe[0])  # open still: a late read's byte goes into it, nowhere else
    del threads  # the pipe that woke them closes once nothing refers to them
    gc.collect()
    for end in pipe:
        with pytest.raises(OSError):
            os.fstat(end)


async def test_a_forked_child_reads_on_threads_and_a_connection_of_its_own(stored: Stored) -> None:
    """The parent's threads did not come across the fork and its connection is not the
    child's to use or close: the child forgets both and opens its own."""
    _, store, session = stored
    assert await store.get(session.id_digest) == session  # the parent's thread, idle

    async def child_reads() -> bool:
        found = await asyncio.wait_for(store.get(session.id_digest), 30)  # not for ever
        return found == session and bool(reads._FORSAKEN)

    def fork() -> int:  # from a thread with no running loop: the child starts one
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # see the PostgreSQL one
            child = os.fork()
        if child == 0:  # the child only reports, by its exit status
            try:
                os._exit(0 if asyncio.run(child_reads()) else 1)
            except BaseException:
                os._exit(2)
        return child

    child = await asyncio.to_thread(fork)
    _, status = await asyncio.to_thread(os.waitpid, child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert await store.get(session.id_digest) == session  # the parent reads on
