"""Fixtures shared by the whole suite: clocks, real databases, real servers.

PostgreSQL and Redis are the machine's own (127.0.0.1:5432 and :6379). When one is not
running, tests that need it skip by name on a laptop, and fail when ``CI=true``.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncEngine

from authward.clock import FrozenClock
from authward.storage.migrate import upgrade
from authward.storage.schema import metadata
from authward.storage.sql import create_engine

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
async def _migrated_engines(
    request: pytest.FixtureRequest, sqlite_dir: str
) -> AsyncIterator[dict[str, AsyncEngine]]:
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
async def sql_engine(
    request: pytest.FixtureRequest,
    _migrated_engines: dict[str, AsyncEngine],
    sqlite_dir: str,
) -> AsyncIterator[AsyncEngine]:
    """A migrated, empty database on each SQL backend."""
    engine = await migrated_engine(request.param, request, _migrated_engines, sqlite_dir)
    await truncate(engine)
    yield engine
    await truncate(engine)
