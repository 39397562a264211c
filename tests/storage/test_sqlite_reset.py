"""SQLite connections come back to the pool rolled back only when a transaction is open.

The pool's own rollback on return is off for SQLite (after a commit it is a trip to the
connection's thread for nothing); what replaces it must still end an open transaction,
or the connection would keep the write lock and every later writer would wait on it.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from authward.storage.sql import create_engine


async def test_a_connection_returned_inside_a_transaction_is_rolled_back(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path}/reset.db", pool_size=1, max_overflow=0)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (n INTEGER)"))
        async with engine.connect() as conn:
            # Behind SQLAlchemy's back: it knows of no transaction to end at close, so only
            # the pool's reset can end the one the driver began for this INSERT.
            driver = (await conn.get_raw_connection()).driver_connection
            await driver.execute("INSERT INTO t VALUES (1)")
            assert driver.in_transaction
        async with engine.connect() as conn:  # the pool's one connection, back again
            driver = (await conn.get_raw_connection()).driver_connection
            assert not driver.in_transaction
            assert (await conn.execute(text("SELECT count(*) FROM t"))).scalar() == 0
    finally:
        await engine.dispose()


async def test_a_committed_connection_comes_back_outside_any_transaction(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path}/reset.db", pool_size=1, max_overflow=0)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (n INTEGER)"))
            await conn.execute(text("INSERT INTO t VALUES (1)"))
        async with engine.connect() as conn:
            driver = (await conn.get_raw_connection()).driver_connection
            assert not driver.in_transaction
            assert (await conn.execute(text("SELECT count(*) FROM t"))).scalar() == 1
    finally:
        await engine.dispose()
