"""The migrations build the schema the tables declare, and carry data across."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, insert, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from authward.revocation.sql import revocations
from authward.schema import metadata
from authward.storage.migrate import upgrade
from authward.storage.sql import create_engine


@pytest.fixture
async def sqlite_file(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """An engine on a new, empty SQLite file of this test's own."""
    engine = create_engine(f"sqlite:///{tmp_path}/migrations.db")
    yield engine
    await engine.dispose()


async def test_migrated_sqlite_schema_is_what_the_tables_declare(
    sqlite_file: AsyncEngine, tmp_path: Path
) -> None:
    """Table by table, index by index, the DDL SQLite keeps for a migrated database is
    what `metadata.create_all` writes: options the comparison of Alembic's autogenerate
    cannot see (such as AUTOINCREMENT) included."""
    declared = create_engine(f"sqlite:///{tmp_path}/declared.db")
    try:
        async with declared.begin() as conn:
            await conn.run_sync(metadata.create_all)
        expected = await _sqlite_ddl(declared)
    finally:
        await declared.dispose()
    await upgrade(sqlite_file)
    assert await _sqlite_ddl(sqlite_file) == expected
    assert "AUTOINCREMENT" in expected["authward_revocations"]


async def test_0004_keeps_the_revocations_and_ids_rise_past_them(sqlite_file: AsyncEngine) -> None:
    """Issue 14: SQLite reused the ids of revocations once they were all gone."""
    await upgrade(sqlite_file, "0003")
    now = datetime.now(UTC)
    rows = [
        {"id": i, "kind": "family", "subject": f"f{i}", "at": now, "until": now + timedelta(1)}
        for i in (5, 9)
    ]
    async with sqlite_file.begin() as conn:
        await conn.execute(insert(revocations), rows)
    await upgrade(sqlite_file, "head")
    async with sqlite_file.begin() as conn:
        kept = (await conn.execute(select(revocations.c.id, revocations.c.subject))).all()
        assert sorted(tuple(row) for row in kept) == [(5, "f5"), (9, "f9")]
        await conn.execute(delete(revocations))
        added = await conn.execute(insert(revocations).values({**rows[0], "id": None}))
    assert added.inserted_primary_key is not None
    assert added.inserted_primary_key[0] == 10  # not 1: the ids nodes had read stay used


async def _sqlite_ddl(engine: AsyncEngine) -> dict[str, str]:
    """Each table's and index's CREATE statement, in one spelling (a table Alembic rebuilt
    has its name quoted, and IF NOT EXISTS)."""
    query = text(
        "SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL"
        " AND name NOT LIKE 'sqlite_%' AND name != 'authward_alembic_version'"
    )
    async with engine.connect() as conn:
        found = (await conn.execute(query)).all()
    return {
        name: re.sub(r"\s+", " ", sql.replace('"', "").replace("IF NOT EXISTS ", "")).strip()
        for name, sql in found
    }
