"""Each protocol's implementations, one fixture parameter each, for the contract suites.

The dispatching fixtures look backends up lazily (``getfixturevalue``), so a run selecting
only ``memory`` never starts a server. They are plain functions on purpose: an async fixture
cannot set up another async fixture through ``getfixturevalue`` (pytest-asyncio).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from authward.pacing import Pacing
from authward.sessions.redis import RedisSessionStore
from authward.sessions.sql import SqlSessionStore
from authward.sessions.store import MemorySessionStore, SessionStore
from authward.storage.redis import KeyNames, RedisClient
from authward.throttle.log import FailureLog
from authward.throttle.memory import MemoryFailureLog
from authward.throttle.redis import RedisFailureLog
from authward.throttle.sql import SqlFailureLog

RedisSpace = tuple[RedisClient, KeyNames]

# Sweeps in steps of 3 sessions (one user on Redis), with no rest: every sweep in the
# suite takes several steps, as a large one does.
SMALL_STEPS = Pacing(batch=3, duty=1.0)

# Longer than any span a contract test records over: Redis forgets failures past it.
FAILURE_WINDOW = timedelta(days=1)

BACKENDS = [
    "memory",
    "sqlite",
    pytest.param("postgres", marks=pytest.mark.postgres),
    pytest.param("redis", marks=pytest.mark.redis),
    pytest.param("redis-cluster", marks=pytest.mark.redis),
]


@pytest.fixture(params=BACKENDS)
def session_store(request: pytest.FixtureRequest) -> SessionStore:
    store: SessionStore = request.getfixturevalue(_fixture(request, "session_store"))
    return store


@pytest.fixture(params=BACKENDS)
def failure_log(request: pytest.FixtureRequest) -> FailureLog:
    log: FailureLog = request.getfixturevalue(_fixture(request, "failure_log"))
    return log


def _fixture(request: pytest.FixtureRequest, role: str) -> str:
    return f"{request.param.replace('-', '_')}_{role}"


@pytest.fixture
def memory_session_store() -> MemorySessionStore:
    return MemorySessionStore()


@pytest.fixture
def sqlite_session_store(sqlite_engine: AsyncEngine) -> SqlSessionStore:
    return SqlSessionStore(sqlite_engine, pacing=SMALL_STEPS)


@pytest.fixture
def postgres_session_store(postgres_engine: AsyncEngine) -> SqlSessionStore:
    return SqlSessionStore(postgres_engine, pacing=SMALL_STEPS)


@pytest.fixture
def redis_session_store(redis_node: RedisSpace) -> RedisSessionStore:
    client, keys = redis_node
    return RedisSessionStore(client, keys=keys, pacing=SMALL_STEPS)


@pytest.fixture
def redis_cluster_session_store(redis_cluster: RedisSpace) -> RedisSessionStore:
    client, keys = redis_cluster
    return RedisSessionStore(client, keys=keys, pacing=SMALL_STEPS)


@pytest.fixture
def memory_failure_log() -> MemoryFailureLog:
    return MemoryFailureLog()


@pytest.fixture
def sqlite_failure_log(sqlite_engine: AsyncEngine) -> SqlFailureLog:
    return SqlFailureLog(sqlite_engine)


@pytest.fixture
def postgres_failure_log(postgres_engine: AsyncEngine) -> SqlFailureLog:
    return SqlFailureLog(postgres_engine)


@pytest.fixture
def redis_failure_log(redis_node: RedisSpace) -> RedisFailureLog:
    client, keys = redis_node
    return RedisFailureLog(client, window=FAILURE_WINDOW, keys=keys)


@pytest.fixture
def redis_cluster_failure_log(redis_cluster: RedisSpace) -> RedisFailureLog:
    client, keys = redis_cluster
    return RedisFailureLog(client, window=FAILURE_WINDOW, keys=keys)
