"""Apply Alembic migrations: at `authward serve` start and by `authward db upgrade`."""

from __future__ import annotations

from pathlib import Path
from typing import Final

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from authward.storage.sql import async_url, translated_errors

MIGRATIONS = Path(__file__).with_name("migrations")
# Any constant will do, as long as it is ours: "authward" in ASCII.
_MIGRATION_LOCK: Final = 0x6175746877617264


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", async_url(database_url).replace("%", "%%"))
    return config


async def upgrade(engine: AsyncEngine) -> None:
    """Bring the database to the newest schema (idempotent).

    On PostgreSQL the migration runs on a connection of its own, without the engine's
    statement timeout (`AUTHWARD_DATABASE_TIMEOUT`): it may wait for another node's
    migration, or build an index on a large table, for longer than a request should.
    Raises StoreUnavailable when the database cannot be reached (a refused connect
    included, which asyncpg raises as a bare OSError).
    """
    async with translated_errors():
        if engine.dialect.name != "postgresql":
            await _upgrade(engine)
            return
        unlimited = create_async_engine(engine.url, poolclass=NullPool)
        try:
            await _upgrade(unlimited)
        finally:
            await unlimited.dispose()


async def _upgrade(engine: AsyncEngine) -> None:
    def _to_head(connection: object) -> None:
        config = alembic_config(engine.url.render_as_string(hide_password=False))
        config.attributes["connection"] = connection
        command.upgrade(config, "head")

    async with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # Nodes of one deployment may start at once: one migrates, the others wait
            # for it and then find nothing to do (the lock ends with the transaction).
            await conn.execute(text(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK})"))
        await conn.run_sync(_to_head)
