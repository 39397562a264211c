"""Fixtures shared by the whole suite: clocks, real databases, real servers.

PostgreSQL and Redis are the machine's own (127.0.0.1:5432 and :6379). When one is not
running, tests that need it skip by name on a laptop, and fail when ``CI=true``.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import tempfile
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from contextlib import asynccontextmanager
from functools import cache
from pathlib import Path

import asyncpg
import fastapi.dependencies.models
import httpx
import pytest
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncEngine

from authward.clock import FrozenClock
from authward.runtime import Runtime, build_runtime
from authward.schema import metadata
from authward.settings import Settings
from authward.storage.migrate import upgrade
from authward.storage.redis import KeyNames, RedisClient, create_client
from authward.storage.sql import create_engine
from authward.web.app import create_app
from tests.storage.redis_servers import START_ERRORS, RedisServers, create_cluster, ping

POSTGRES_ADMIN_URL = os.environ.get(
    "AUTHWARD_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def unavailable(what: str, reason: object) -> None:
    """Skip on a laptop, fail in CI: a missing service must never pass silently there."""
    message = f"{what} is not available: {reason}"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


# FastAPI memoizes what kind of callable each dependency is (lru_caches in
# fastapi.dependencies.models, 4,096 entries each), keyed by the callable itself: the
# bound methods of each test's `Authward` (`auth.current_user`, ...), and through them the
# whole runtime (engines, clients, caches). Kept there, every test's runtime lived to the
# end of the run: 3.4 GB by the last test, full collections of 5 s every half minute, and
# a minute of collection at exit. A service builds its app once, so the caches never grow
# there; the suite builds an app per test and empties them after each.
_FASTAPI_CALLABLE_CACHES = [
    value
    for value in vars(fastapi.dependencies.models).values()
    if callable(getattr(value, "cache_clear", None))
]


def forget_fastapi_callables() -> None:
    for memo in _FASTAPI_CALLABLE_CACHES:
        memo.cache_clear()


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    forget_fastapi_callables()  # after the test's own fixtures are torn down


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture(scope="session")
async def postgres_url() -> AsyncIterator[str]:
    """A private database on the shared server, created for this run and dropped after."""
    name = f"authward_test_{secrets.token_hex(4)}"
    admin_dsn = POSTGRES_ADMIN_URL
    try:
        admin = await asyncpg.connect(admin_dsn, timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        unavailable("PostgreSQL", exc)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    base = admin_dsn.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    admin = await asyncpg.connect(admin_dsn, timeout=5)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture(scope="session")
def sqlite_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield str(tmp_path_factory.mktemp("sqlite"))


@pytest.fixture(scope="session")
async def _migrated_engines() -> AsyncIterator[dict[str, AsyncEngine]]:
    engines: dict[str, AsyncEngine] = {}
    yield engines
    for engine in engines.values():
        await engine.dispose()


async def migrated_engine(
    backend: str, request: pytest.FixtureRequest, cache: dict[str, AsyncEngine], sqlite_dir: str
) -> AsyncEngine:
    """A migrated engine for `backend` ("sqlite" or "postgres"), shared by the session."""
    if backend not in cache:
        if backend == "sqlite":
            url = f"sqlite:///{sqlite_dir}/authward.db"
        else:
            url = request.getfixturevalue("postgres_url")
        engine = create_engine(url)
        await upgrade(engine)
        cache[backend] = engine
    return cache[backend]


async def truncate(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            await conn.execute(delete(table))


@pytest.fixture(params=["sqlite", "postgres"])
def sql_engine(request: pytest.FixtureRequest) -> AsyncEngine:
    """A migrated, empty database on each SQL backend."""
    engine: AsyncEngine = request.getfixturevalue(f"{request.param}_engine")
    return engine


# --- the whole service, as HTTP clients see it -------------------------------------------

CHEAP_ARGON2 = {"argon2_time_cost": 1, "argon2_memory_kib": 8, "argon2_parallelism": 1}
TEST_SECRET = "test-secret-" + "0123456789abcdefghijklmnopqrstuvwxyz"


def make_settings(tmp_path: object, **overrides: object) -> Settings:
    """Settings for a test: a private SQLite file, cheap argon2 (the cost is not under test).

    The private file starts as a copy of a database migrated once for the run (unless the
    test names a database of its own, or the file exists): migrating a new file is 80 ms of
    CPU, a copy well under one. Opening the runtime still runs the migration, which finds
    the schema at head.
    """
    default_url = f"sqlite:///{tmp_path}/authward.db"
    if overrides.get("database_url", default_url) == default_url:
        seed_sqlite(Path(f"{tmp_path}/authward.db"))
    values: dict[str, object] = {
        "database_url": default_url,
        "secret_key": TEST_SECRET,
        # Mail links need a base once SMTP is set; a test's own value wins.
        "public_url": "https://authward.test",
        **CHEAP_ARGON2,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


def seed_sqlite(database: Path) -> None:
    """Copy the run's migrated SQLite file to `database`, if that does not exist yet."""
    if database.parent.is_dir() and not database.exists():
        shutil.copy(_migrated_sqlite(), database)  # with its mode: owner only, as authward's


@cache
def _migrated_sqlite() -> Path:
    """A SQLite file at the newest schema, migrated once for the run (owner only)."""
    database = Path(tempfile.mkdtemp(prefix="authward-test-")) / "migrated.db"

    async def migrate() -> None:
        engine = create_engine(f"sqlite:///{database}")
        try:
            await upgrade(engine)
        finally:
            await engine.dispose()  # the last connection's close checkpoints the WAL

    # In a thread of its own: a test's event loop may be running in this one.
    failure: list[BaseException] = []
    worker = threading.Thread(target=_run_catching, args=(migrate, failure))
    worker.start()
    worker.join()
    if failure:
        raise failure[0]
    return database


def _run_catching(
    main: Callable[[], Coroutine[object, object, None]], failure: list[BaseException]
) -> None:
    try:
        asyncio.run(main())
    except BaseException as exc:  # handed to the waiting thread
        failure.append(exc)


def pytest_unconfigure(config: pytest.Config) -> None:
    if _migrated_sqlite.cache_info().currsize:
        shutil.rmtree(_migrated_sqlite().parent, ignore_errors=True)


@pytest.fixture
def settings(tmp_path: object) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture
async def runtime(settings: Settings, clock: FrozenClock) -> AsyncIterator[Runtime]:
    built = build_runtime(settings, clock=clock)
    await built.open(background=False)
    yield built
    await built.close()


@pytest.fixture
async def client(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTPS client of the real ASGI app (HTTPS, so Secure cookies round-trip)."""
    async with http_client(runtime) as c:
        yield c


@asynccontextmanager
async def http_client(
    runtime: Runtime, address: str = "203.0.113.7"
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(runtime, open_runtime=False)
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as c:
        yield c


# --- Redis: the shared server under a prefix of its own, private servers, a cluster -----

REDIS_URL = os.environ.get("AUTHWARD_TEST_REDIS", "redis://127.0.0.1:6379/0")


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The shared Redis, checked once. Never flushed: each test works under its own prefix."""
    try:
        ping(REDIS_URL)
    except START_ERRORS as exc:
        unavailable("Redis", exc)
    return REDIS_URL


@pytest.fixture(scope="session")
def redis_cluster_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A private three-master Redis Cluster on free loopback ports, for this run only."""
    try:
        servers = RedisServers(tmp_path_factory.mktemp("redis-cluster"))
    except START_ERRORS as exc:
        unavailable("Redis Cluster", exc)
    try:
        ports = create_cluster(servers)
    except START_ERRORS as exc:
        servers.stop_all()
        unavailable("Redis Cluster", exc)
    yield "redis+cluster://" + ",".join(f"127.0.0.1:{port}" for port in ports)
    servers.stop_all()


@pytest.fixture
def redis_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServers]:
    """Private Redis servers for one test, to crash at will; all killed after it."""
    try:
        servers = RedisServers(tmp_path_factory.mktemp("redis"))
    except START_ERRORS as exc:
        unavailable("redis-server", exc)
    yield servers
    servers.stop_all()


@pytest.fixture
async def redis_node(redis_url: str) -> AsyncIterator[tuple[RedisClient, KeyNames]]:
    """A client of the shared Redis and a key prefix of this test's own, emptied after."""
    async with redis_space(redis_url) as space:
        yield space


@pytest.fixture
async def redis_cluster(redis_cluster_url: str) -> AsyncIterator[tuple[RedisClient, KeyNames]]:
    """A client of the private cluster and a key prefix of this test's own, emptied after."""
    async with redis_space(redis_cluster_url) as space:
        yield space


@asynccontextmanager
async def redis_space(url: str) -> AsyncIterator[tuple[RedisClient, KeyNames]]:
    client = create_client(url)
    keys = KeyNames(f"authward-test-{secrets.token_hex(6)}:")
    try:
        yield client, keys
    finally:
        async for name in client.scan_iter(match=keys.pattern("*"), count=1000):
            await client.delete(name)
        await client.aclose()


# --- one empty, migrated database per SQL backend (for suites parametrized their own way) --


@pytest.fixture
async def sqlite_engine(
    request: pytest.FixtureRequest, _migrated_engines: dict[str, AsyncEngine], sqlite_dir: str
) -> AsyncIterator[AsyncEngine]:
    engine = await migrated_engine("sqlite", request, _migrated_engines, sqlite_dir)
    await truncate(engine)
    yield engine
    await truncate(engine)


@pytest.fixture
async def postgres_engine(
    request: pytest.FixtureRequest,
    postgres_url: str,
    _migrated_engines: dict[str, AsyncEngine],
    sqlite_dir: str,
) -> AsyncIterator[AsyncEngine]:
    # postgres_url is asked for here, not looked up inside: pytest-asyncio cannot set up an
    # async fixture that another async fixture requests through getfixturevalue.
    engine = await migrated_engine("postgres", request, _migrated_engines, sqlite_dir)
    await truncate(engine)
    yield engine
    await truncate(engine)


# --- empty databases, as many as a test needs ----------------------------------------

NewDatabase = Callable[[], Awaitable[str]]


@pytest.fixture(params=["sqlite", "postgres"])
async def new_database(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[NewDatabase]:
    """Make URLs of new, empty databases on each SQL backend (PostgreSQL's are dropped)."""
    made: list[str] = []

    async def make() -> str:
        name = f"authward_empty_{secrets.token_hex(4)}"
        if request.param == "sqlite":
            return f"sqlite:///{tmp_path}/{name}.db"
        try:
            admin = await asyncpg.connect(POSTGRES_ADMIN_URL, timeout=5)
        except (OSError, asyncpg.PostgresError) as exc:
            unavailable("PostgreSQL", exc)
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            await admin.close()
        made.append(name)
        return f"{POSTGRES_ADMIN_URL.rsplit('/', 1)[0]}/{name}"

    yield make
    if made:
        admin = await asyncpg.connect(POSTGRES_ADMIN_URL, timeout=5)
        try:
            for name in made:
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()
