"""What the multi-node tests share: a database and a Redis key prefix of their own.

The database is created on the shared PostgreSQL for one test module and dropped after;
the prefix isolates this run's keys on the shared Redis and is emptied after (never a
FLUSHALL or FLUSHDB: other runs may share the server).
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest
import redis

from tests.conftest import POSTGRES_ADMIN_URL, unavailable
from tests.storage.postgres_servers import START_ERRORS as PG_START_ERRORS
from tests.storage.postgres_servers import PostgresServer


@pytest.fixture(scope="module")
async def database_url() -> AsyncIterator[str]:
    """A private, empty database on the shared PostgreSQL for this module."""
    name = f"authward_scaleout_{secrets.token_hex(4)}"
    try:
        admin = await asyncpg.connect(POSTGRES_ADMIN_URL, timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        unavailable("PostgreSQL", exc)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    yield f"{POSTGRES_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    admin = await asyncpg.connect(POSTGRES_ADMIN_URL, timeout=5)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture(scope="module")
def redis_prefix(redis_url: str) -> Iterator[str]:
    """A key prefix of this module's own on the shared Redis; its keys are deleted after."""
    prefix = f"authward-test-{secrets.token_hex(6)}:"
    yield prefix
    delete_keys(redis_url, prefix)


def delete_keys(url: str, prefix: str) -> None:
    client = redis.Redis.from_url(url, socket_timeout=5)
    try:
        for name in client.scan_iter(match=_glob_escape(prefix) + "*", count=1000):
            client.delete(name)
    finally:
        client.close()


def _glob_escape(text: str) -> str:
    return "".join("\\" + char if char in "*?[]\\^" else char for char in text)


@pytest.fixture
def postgres_server() -> Iterator[PostgresServer]:
    """A private PostgreSQL on a free port, for one test to stop and start at will."""
    try:
        server = PostgresServer()
    except PG_START_ERRORS as exc:
        unavailable("a private PostgreSQL", exc)
    try:
        server.start()
    except PG_START_ERRORS as exc:
        log = server.log()
        server.remove()
        unavailable("a private PostgreSQL", f"{exc}: {log[-2000:]}")
    yield server
    server.remove()
