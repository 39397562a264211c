"""Each protocol's implementations, one fixture parameter each, for the contract suites.

The dispatching fixtures look backends up lazily (``getfixturevalue``), so a run selecting
only ``memory`` never starts a server. They are plain functions on purpose: an async fixture
cannot set up another async fixture through ``getfixturevalue`` (pytest-asyncio).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from authward.accounts.sql import SqlUserStore
from authward.accounts.store import MemoryUserStore, UserStore
from authward.clock import FrozenClock
from authward.factors.passkey_sql import SqlPasskeyStore
from authward.factors.passkey_store import MemoryPasskeyStore, PasskeyStore
from authward.factors.sql import SqlFactorStore
from authward.factors.store import FactorStore, MemoryFactorStore
from authward.pacing import Pacing
from authward.revocation import samehost
from authward.revocation.bus import LocalRevocationBus, RevocationBus
from authward.revocation.postgres import PostgresRevocationBus
from authward.revocation.redis import RedisRevocationBus
from authward.revocation.samehost import SameHostRevocationBus
from authward.revocation.sql import SqlRevocationBus
from authward.sessions.cache import CachedSessionStore
from authward.sessions.redis import RedisSessionStore
from authward.sessions.sql import SqlSessionStore
from authward.sessions.store import MemorySessionStore, SessionStore
from authward.storage.redis import KeyNames, RedisClient, create_client
from authward.throttle.log import FailureLog
from authward.throttle.memory import MemoryFailureLog
from authward.throttle.redis import RedisFailureLog
from authward.throttle.sql import SqlFailureLog
from authward.tokens.sql import SqlFamilyStore, SqlKeyStore
from authward.tokens.store import FamilyStore, KeyStore, MemoryFamilyStore, MemoryKeyStore

RedisSpace = tuple[RedisClient, KeyNames]
NewBus = Callable[[], RevocationBus]

# Sweeps in steps of 3 sessions (one user on Redis), with no rest: every sweep in the
# suite takes several steps, as a large one does.
SMALL_STEPS = Pacing(batch=3, duty=1.0)

# Longer than any span a contract test records over: Redis forgets failures past it.
FAILURE_WINDOW = timedelta(days=1)

# Short, so that suites which advance the clock see the cache both serve a copy and ask
# its store again; few entries, so that its evictions are part of every suite run too.
CACHE_TTL = timedelta(seconds=5)
CACHE_ENTRIES = 8

BACKENDS = [
    "memory",
    "sqlite",
    pytest.param("postgres", marks=pytest.mark.postgres),
    pytest.param("redis", marks=pytest.mark.redis),
    pytest.param("redis-cluster", marks=pytest.mark.redis),
]
# The buses that push the SQL table's rows (each node started, as a server starts it).
PUSHED_BUSES = [
    "sqlite-samehost",
    pytest.param("postgres-notify", marks=pytest.mark.postgres),
]
# Users, signing keys and refresh families live in the database only.
SQL_BACKENDS = BACKENDS[:3]
# Every bus whose nodes share a store: all but the in-process one.
SHARED_BACKENDS = BACKENDS[1:]
# A node's session cache is a SessionStore too: in front of memory, SQL and Redis, each
# with the bus a deployment of that store gives it.
CACHED_BACKENDS = [
    "cache-memory",
    "cache-sqlite",
    pytest.param("cache-redis", marks=pytest.mark.redis),
]


@pytest.fixture(params=[*BACKENDS, *CACHED_BACKENDS])
def session_store(request: pytest.FixtureRequest) -> SessionStore:
    store: SessionStore = request.getfixturevalue(_fixture(request, "session_store"))
    return store


@pytest.fixture(params=CACHED_BACKENDS)
def session_cache(request: pytest.FixtureRequest) -> CachedSessionStore:
    cache: CachedSessionStore = request.getfixturevalue(_fixture(request, "session_store"))
    return cache


@pytest.fixture(params=BACKENDS)
def failure_log(request: pytest.FixtureRequest) -> FailureLog:
    log: FailureLog = request.getfixturevalue(_fixture(request, "failure_log"))
    return log


@pytest.fixture(params=SQL_BACKENDS)
def user_store(request: pytest.FixtureRequest) -> UserStore:
    store: UserStore = request.getfixturevalue(_fixture(request, "user_store"))
    return store


@pytest.fixture(params=SQL_BACKENDS)
def key_store(request: pytest.FixtureRequest) -> KeyStore:
    store: KeyStore = request.getfixturevalue(_fixture(request, "key_store"))
    return store


@pytest.fixture(params=SQL_BACKENDS)
def family_store(request: pytest.FixtureRequest) -> FamilyStore:
    store: FamilyStore = request.getfixturevalue(_fixture(request, "family_store"))
    return store


@pytest.fixture(params=SQL_BACKENDS)
def factor_store(request: pytest.FixtureRequest) -> FactorStore:
    store: FactorStore = request.getfixturevalue(_fixture(request, "factor_store"))
    return store


@pytest.fixture(params=SQL_BACKENDS)
def passkey_store(request: pytest.FixtureRequest) -> PasskeyStore:
    store: PasskeyStore = request.getfixturevalue(_fixture(request, "passkey_store"))
    return store


@pytest.fixture(params=[*BACKENDS, *PUSHED_BUSES])
def new_bus(request: pytest.FixtureRequest) -> NewBus:
    """Make a node's bus; call it inside the test (a Redis node starts its subscriber)."""
    new: NewBus = request.getfixturevalue(_fixture(request, "new_bus"))
    return new


@pytest.fixture(params=[*SHARED_BACKENDS, *PUSHED_BUSES])
def new_shared_bus(request: pytest.FixtureRequest) -> NewBus:
    """Make a node's bus over the one store that every node made here shares."""
    new: NewBus = request.getfixturevalue(_fixture(request, "new_bus"))
    return new


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
def cache_memory_session_store(clock: FrozenClock) -> CachedSessionStore:
    return CachedSessionStore(
        MemorySessionStore(),
        LocalRevocationBus(),
        clock,
        ttl=CACHE_TTL,
        max_entries=CACHE_ENTRIES,
    )


@pytest.fixture
def cache_sqlite_session_store(
    sqlite_session_store: SqlSessionStore, sqlite_engine: AsyncEngine, clock: FrozenClock
) -> CachedSessionStore:
    return CachedSessionStore(
        sqlite_session_store,
        SqlRevocationBus(sqlite_engine, clock),
        clock,
        ttl=CACHE_TTL,
        max_entries=CACHE_ENTRIES,
    )


@pytest.fixture
def cache_redis_session_store(
    redis_session_store: RedisSessionStore, redis_node: RedisSpace, clock: FrozenClock
) -> CachedSessionStore:
    client, keys = redis_node
    # Its subscriber is not started: the suite has one node, which hears itself at once.
    return CachedSessionStore(
        redis_session_store,
        RedisRevocationBus(client, clock, keys=keys),
        clock,
        ttl=CACHE_TTL,
        max_entries=CACHE_ENTRIES,
    )


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


@pytest.fixture
def memory_user_store() -> MemoryUserStore:
    return MemoryUserStore()


@pytest.fixture
def sqlite_user_store(sqlite_engine: AsyncEngine) -> SqlUserStore:
    return SqlUserStore(sqlite_engine)


@pytest.fixture
def postgres_user_store(postgres_engine: AsyncEngine) -> SqlUserStore:
    return SqlUserStore(postgres_engine)


@pytest.fixture
def memory_key_store() -> MemoryKeyStore:
    return MemoryKeyStore()


@pytest.fixture
def sqlite_key_store(sqlite_engine: AsyncEngine) -> SqlKeyStore:
    return SqlKeyStore(sqlite_engine)


@pytest.fixture
def postgres_key_store(postgres_engine: AsyncEngine) -> SqlKeyStore:
    return SqlKeyStore(postgres_engine)


@pytest.fixture
def memory_family_store() -> MemoryFamilyStore:
    return MemoryFamilyStore()


@pytest.fixture
def sqlite_family_store(sqlite_engine: AsyncEngine) -> SqlFamilyStore:
    return SqlFamilyStore(sqlite_engine)


@pytest.fixture
def postgres_family_store(postgres_engine: AsyncEngine) -> SqlFamilyStore:
    return SqlFamilyStore(postgres_engine)


@pytest.fixture
def memory_new_bus() -> NewBus:
    # One process, no peers: each bus made here is a node of its own.
    return LocalRevocationBus


@pytest.fixture
def sqlite_new_bus(sqlite_engine: AsyncEngine, clock: FrozenClock) -> NewBus:
    return lambda: SqlRevocationBus(sqlite_engine, clock)


@pytest.fixture
def postgres_new_bus(postgres_engine: AsyncEngine, clock: FrozenClock) -> NewBus:
    return lambda: SqlRevocationBus(postgres_engine, clock)


@pytest.fixture
async def sqlite_samehost_new_bus(
    sqlite_engine: AsyncEngine, clock: FrozenClock, tmp_path: Path
) -> AsyncIterator[NewBus]:
    directory = samehost.prepare(tmp_path / "bus")
    async with started(lambda: SameHostRevocationBus(sqlite_engine, clock, directory)) as new:
        yield new


@pytest.fixture
async def postgres_notify_new_bus(
    postgres_engine: AsyncEngine, clock: FrozenClock
) -> AsyncIterator[NewBus]:
    async with started(lambda: PostgresRevocationBus(postgres_engine, clock)) as new:
        yield new


@asynccontextmanager
async def started(make: NewBus) -> AsyncIterator[NewBus]:
    """Nodes whose push path runs, as a server's does; all stopped after the test."""
    made: list[RevocationBus] = []

    def new() -> RevocationBus:
        bus = make()
        bus.start()
        made.append(bus)
        return bus

    try:
        yield new
    finally:
        for bus in made:
            await bus.close()


@pytest.fixture
async def redis_new_bus(
    redis_node: RedisSpace, redis_url: str, clock: FrozenClock
) -> AsyncIterator[NewBus]:
    async with redis_nodes(redis_url, redis_node[1], clock) as new:
        yield new


@pytest.fixture
async def redis_cluster_new_bus(
    redis_cluster: RedisSpace, redis_cluster_url: str, clock: FrozenClock
) -> AsyncIterator[NewBus]:
    async with redis_nodes(redis_cluster_url, redis_cluster[1], clock) as new:
        yield new


@asynccontextmanager
async def redis_nodes(url: str, keys: KeyNames, clock: FrozenClock) -> AsyncIterator[NewBus]:
    """Nodes of one deployment on `url`: each a client and a running subscriber of its own."""
    made: list[tuple[RedisRevocationBus, RedisClient]] = []

    def new() -> RedisRevocationBus:
        client = create_client(url)
        bus = RedisRevocationBus(client, clock, keys=keys)
        bus.start()  # as a server does
        made.append((bus, client))
        return bus

    try:
        yield new
    finally:
        for bus, client in made:
            await bus.close()
            await client.aclose()


@pytest.fixture
def memory_factor_store() -> MemoryFactorStore:
    return MemoryFactorStore()


@pytest.fixture
def sqlite_factor_store(sqlite_engine: AsyncEngine) -> SqlFactorStore:
    return SqlFactorStore(sqlite_engine)


@pytest.fixture
def postgres_factor_store(postgres_engine: AsyncEngine) -> SqlFactorStore:
    return SqlFactorStore(postgres_engine)


@pytest.fixture
def memory_passkey_store() -> MemoryPasskeyStore:
    return MemoryPasskeyStore()


@pytest.fixture
def sqlite_passkey_store(sqlite_engine: AsyncEngine) -> SqlPasskeyStore:
    return SqlPasskeyStore(sqlite_engine)


@pytest.fixture
def postgres_passkey_store(postgres_engine: AsyncEngine) -> SqlPasskeyStore:
    return SqlPasskeyStore(postgres_engine)
