"""An exhausted connection pool is a 503 (StoreUnavailable), never a 500."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from authward.errors import StoreUnavailable
from authward.storage.sql import create_engine, translated_errors


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
