"""A PostgreSQL statement that takes too long is a 503 (StoreUnavailable); a migration waits.

On the shared server, in this run's own database: a lock held on another connection
stands for whatever keeps a statement waiting. A server that answers nothing at all is
in tests/scaleout/test_faults.py.
"""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from authward.errors import StoreUnavailable
from authward.sessions.sql import SqlSessionStore
from authward.storage.migrate import _MIGRATION_LOCK, upgrade
from authward.storage.sql import create_engine

pytestmark = pytest.mark.postgres

TIMEOUT = 0.5  # seconds
HANG = 30  # seconds: what this test calls a hang


async def test_a_statement_stuck_behind_a_lock_is_store_unavailable(
    postgres_engine: AsyncEngine, postgres_url: str
) -> None:
    limited = create_engine(postgres_url, postgres_timeout=TIMEOUT)
    store = SqlSessionStore(limited)
    digest = b"\x01" * 32
    try:
        async with postgres_engine.connect() as holder:
            await holder.execute(text("LOCK TABLE authward_sessions IN ACCESS EXCLUSIVE MODE"))
            with pytest.raises(StoreUnavailable):
                await asyncio.wait_for(store.get(digest), HANG)
            await holder.rollback()
        assert await asyncio.wait_for(store.get(digest), HANG) is None  # healed
    finally:
        await limited.dispose()


async def test_a_migration_waits_longer_than_the_statement_timeout(
    postgres_engine: AsyncEngine, postgres_url: str
) -> None:
    limited = create_engine(postgres_url, postgres_timeout=TIMEOUT)
    try:
        async with postgres_engine.connect() as other_node:  # migrating, as far as we know
            await other_node.execute(text(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK})"))
            migrating = asyncio.create_task(upgrade(limited))
            await asyncio.sleep(3 * TIMEOUT)
            assert not migrating.done()  # still waiting, not failed
            await other_node.rollback()
        await asyncio.wait_for(migrating, HANG)
    finally:
        await limited.dispose()
