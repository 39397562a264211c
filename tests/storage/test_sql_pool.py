"""An exhausted connection pool is a 503 (StoreUnavailable), never a 500."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from authward.errors import StoreUnavailable
from authward.runtime import build_runtime
from authward.storage.sql import SQLITE_POOL_SIZE, create_engine, translated_errors
from tests.conftest import make_settings


async def test_a_pool_timeout_is_store_unavailable(tmp_path: Path) -> None:
    """Found by benchmarks/soak.py: 200 clients outwaited the pool, and got 500s."""
    engine = create_engine(
        f"sqlite:///{tmp_path}/pool.db", pool_size=1, max_overflow=0, pool_timeout=0.05
    )
    try:
        async with engine.connect() as held:
            await held.execute(text("SELECT 1"))
            with pytest.raises(StoreUnavailable):
                async with translated_errors(), engine.connect() as conn:
                    await conn.execute(text("SELECT 1"))
    finally:
        await engine.dispose()


@pytest.mark.postgres
async def test_the_postgres_pool_follows_the_settings(postgres_url: str, tmp_path: Path) -> None:
    """AUTHWARD_DATABASE_POOL_SIZE connections, as many again in a burst, then a quick 503."""
    settings = make_settings(
        tmp_path, database_url=postgres_url, database_pool_size=2, database_pool_timeout=0.2
    )
    engine = build_runtime(settings).engine
    try:
        async with contextlib.AsyncExitStack() as held:
            for _ in range(4):  # the pool, then its overflow: all four open
                conn = await held.enter_async_context(engine.connect())
                await conn.execute(text("SELECT 1"))
            began = time.monotonic()
            with pytest.raises(StoreUnavailable):
                async with translated_errors(), engine.connect() as conn:
                    await conn.execute(text("SELECT 1"))
            assert time.monotonic() - began < 5  # the setting's 0.2 s, not the 30 s default
    finally:
        await engine.dispose()


async def test_a_sqlite_file_keeps_a_fixed_pool_of_small_caches(tmp_path: Path) -> None:
    """Memory stays bounded under load: no connections opened per burst, 1 MiB cache each."""
    engine = create_engine(f"sqlite:///{tmp_path}/fixed.db", pool_timeout=0.2)
    try:
        async with contextlib.AsyncExitStack() as held:
            for _ in range(SQLITE_POOL_SIZE):
                conn = await held.enter_async_context(engine.connect())
                assert (await conn.execute(text("PRAGMA cache_size"))).scalar() == -1024
            with pytest.raises(StoreUnavailable):  # no overflow: the next one waits, then 503
                async with translated_errors(), engine.connect() as conn:
                    await conn.execute(text("SELECT 1"))
    finally:
        await engine.dispose()
