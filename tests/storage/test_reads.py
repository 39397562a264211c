"""One-hop key reads (`authward.storage.reads`) on a SQLite file: batched reader threads
that answer each request its own row, see every commit, and fail as a 503."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from authward import crypto
from authward.clock import FrozenClock
from authward.errors import StoreUnavailable
from authward.sessions.sql import SqlSessionStore
from authward.storage import reads
from authward.storage.migrate import upgrade
from authward.storage.sql import create_engine
from tests.contracts.test_session_store import make_session


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


async def test_a_read_sees_the_latest_commit(tmp_path: Path, clock: FrozenClock) -> None:
    engine = create_engine(f"sqlite:///{tmp_path}/reads.db")
    try:
        await upgrade(engine)
        store = SqlSessionStore(engine)
        session = make_session(clock.now(), "ada")
        await store.add(session)
        assert await store.get(session.id_digest) == session
        later = clock.now() + timedelta(minutes=1)
        await store.touch(session.id_digest, later, later + timedelta(minutes=30))
        slid = await store.get(session.id_digest)
        assert slid is not None and slid.last_seen_at == later
        assert await store.remove(session.id_digest)
        assert await store.get(session.id_digest) is None
    finally:
        await engine.dispose()


async def test_a_database_that_cannot_be_read_is_unavailable(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path}/never-migrated.db")
    try:
        with pytest.raises(StoreUnavailable):  # no such table: SQLite's OperationalError
            await SqlSessionStore(engine).get(crypto.digest("x"))
    finally:
        await engine.dispose()


async def test_a_cancelled_read_leaves_the_others_answered(
    tmp_path: Path, clock: FrozenClock
) -> None:
    engine = create_engine(f"sqlite:///{tmp_path}/reads.db")
    try:
        await upgrade(engine)
        store = SqlSessionStore(engine)
        session = make_session(clock.now(), "ada")
        await store.add(session)
        tasks = [asyncio.ensure_future(store.get(session.id_digest)) for _ in range(10)]
        tasks[3].cancel()
        done = await asyncio.gather(*tasks, return_exceptions=True)
        assert isinstance(done[3], asyncio.CancelledError)
        assert [d for i, d in enumerate(done) if i != 3] == [session] * 9
    finally:
        await engine.dispose()


async def test_the_reader_threads_close_with_the_engine_and_come_back(
    tmp_path: Path, clock: FrozenClock
) -> None:
    engine = create_engine(f"sqlite:///{tmp_path}/reads.db")
    await upgrade(engine)
    store = SqlSessionStore(engine)
    session = make_session(clock.now(), "ada")
    await store.add(session)
    assert await store.get(session.id_digest) == session
    assert engine.sync_engine in reads._OPEN
    await engine.dispose()
    assert engine.sync_engine not in reads._OPEN
    try:
        assert await store.get(session.id_digest) == session  # opened again
    finally:
        await engine.dispose()
