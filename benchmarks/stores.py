"""The stores a run needs beside SQLite: a private Redis and a private PostgreSQL database.

Redis is a `redis-server` of our own on a free loopback port (nothing persisted), so a
million keys never land in a Redis anyone else uses. PostgreSQL is the machine's server
(``BENCH_POSTGRES_URL``, default ``postgresql://postgres@127.0.0.1:5432/postgres``), in a
database made for the run and dropped after it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from authward.cli.loadgen import free_port

POSTGRES_ADMIN = os.environ.get(
    "BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


@contextlib.contextmanager
def redis_server(workdir: Path) -> Iterator[str | None]:
    """A private Redis for the block; None (and a skip in the report) without redis-server."""
    binary = shutil.which("redis-server")
    if binary is None:
        yield None
        return
    port = free_port()
    process = subprocess.Popen(  # noqa: S603
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(workdir),
            "--save",
            "",
            "--appendonly",
            "no",
            "--logfile",
            f"redis-{port}.log",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    try:
        import redis

        client = redis.Redis.from_url(url)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline or process.poll() is not None:
                    yield None
                    return
                time.sleep(0.1)
        client.close()
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


@contextlib.contextmanager
def postgres_database() -> Iterator[str | None]:
    """A fresh database on the machine's PostgreSQL; None when there is none."""
    import asyncpg

    name = f"authward_bench_{secrets.token_hex(4)}"

    async def admin(statement: str) -> None:
        connection = await asyncpg.connect(POSTGRES_ADMIN, timeout=5)
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    try:
        asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError):
        yield None
        return
    try:
        yield POSTGRES_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
