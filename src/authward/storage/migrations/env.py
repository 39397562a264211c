"""Alembic environment: runs migrations on the async engine authward itself uses."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from authward.schema import metadata  # every table: the list lives above the concepts
from authward.storage.naming import VERSION_TABLE
from authward.storage.sql import create_engine


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # Its own version table: an app's Alembic history keeps `alembic_version`.
        version_table=VERSION_TABLE,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters by copy
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_online() -> None:
    engine = create_engine(context.config.get_main_option("sqlalchemy.url") or "")
    try:
        async with engine.connect() as conn:
            await conn.run_sync(_run)
            await conn.commit()
    finally:
        await engine.dispose()


if context.is_offline_mode():
    raise SystemExit("authward migrations run online only: use `authward db upgrade`")
if (given := context.config.attributes.get("connection")) is not None:
    _run(given)  # called from authward.storage.migrate with an open connection
else:
    asyncio.run(_run_online())
