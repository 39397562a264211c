"""Apply Alembic migrations: at `authward serve` start and by `authward db upgrade`.

authward's history is its own: its revision is kept in `authward_alembic_version`, so an
application's Alembic history (in `alembic_version`) runs beside it, each ignoring the
other. A deployment from before that kept authward's revision in `alembic_version`; the
first upgrade moves it over, once (`_adopt_legacy_version`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Column, MetaData, String, Table, delete, inspect, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from authward.storage.naming import LEGACY_VERSION_TABLE, VERSION_TABLE
from authward.storage.sql import async_url, translated_errors

MIGRATIONS = Path(__file__).with_name("migrations")
# Any constant will do, as long as it is ours: "authward" in ASCII.
_MIGRATION_LOCK: Final = 0x6175746877617264
# What tells authward's own tables from before the prefix from an app's `users`.
_LEGACY_MARKS: Final = ("login_failures", "users", "sessions")
_LEGACY_USER_COLUMNS: Final = frozenset({"id", "email", "password_hash", "disabled"})


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", async_url(database_url).replace("%", "%%"))
    return config


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Bring the database to `revision`, the newest schema unless told (idempotent).

    On PostgreSQL the migration runs on a connection of its own, without the engine's
    statement timeout (`AUTHWARD_DATABASE_TIMEOUT`): it may wait for another node's
    migration, or build an index on a large table, for longer than a request should.
    Raises StoreUnavailable when the database cannot be reached (a refused connect
    included, which asyncpg raises as a bare OSError).
    """
    async with translated_errors():
        if engine.dialect.name != "postgresql":
            await _upgrade(engine, revision)
            return
        unlimited = create_async_engine(engine.url, poolclass=NullPool)
        try:
            await _upgrade(unlimited, revision)
        finally:
            await unlimited.dispose()


async def _upgrade(engine: AsyncEngine, revision: str) -> None:
    config = alembic_config(engine.url.render_as_string(hide_password=False))

    def _to(connection: Connection) -> None:
        _adopt_legacy_version(connection, ScriptDirectory.from_config(config))
        config.attributes["connection"] = connection
        command.upgrade(config, revision)

    async with engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:
            await _sqlite_foreign_keys(conn, on=False)
        try:
            async with conn.begin():
                if not sqlite:
                    # Nodes of one deployment may start at once: one migrates, the others
                    # wait for it and then find nothing to do (the lock ends with the
                    # transaction).
                    await conn.execute(text(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK})"))
                await conn.run_sync(_to)
        finally:
            if sqlite:
                await _sqlite_foreign_keys(conn, on=True)


async def _sqlite_foreign_keys(conn: AsyncConnection, *, on: bool) -> None:
    # Rebuilding a table (batch mode) drops its old copy, and with foreign keys on that
    # drop cascades into the tables referring to it. The pragma is ignored inside a
    # transaction, so it is set before the migration's own begins and restored after.
    await conn.exec_driver_sql(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")
    await conn.commit()


def _adopt_legacy_version(connection: Connection, script: ScriptDirectory) -> None:
    """Move authward's revision from `alembic_version` to its own table, once.

    Only a revision of authward's, beside authward's own tables of before the prefix, is
    taken; an application's revisions in `alembic_version` stay where they are.
    """
    inspector = inspect(connection)
    if inspector.has_table(VERSION_TABLE) or not inspector.has_table(LEGACY_VERSION_TABLE):
        return
    if not all(inspector.has_table(name) for name in _LEGACY_MARKS):
        return
    if not _LEGACY_USER_COLUMNS <= {column["name"] for column in inspector.get_columns("users")}:
        return
    legacy = Table(LEGACY_VERSION_TABLE, MetaData(), Column("version_num", String(32)))
    found = connection.execute(select(legacy.c.version_num)).scalars().all()
    ours = {revision.revision for revision in script.walk_revisions()}
    taken = [revision for revision in found if revision in ours]
    if len(taken) != 1:
        return
    context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
    context.stamp(script, taken[0])
    connection.execute(delete(legacy).where(legacy.c.version_num == taken[0]))
    if len(found) == 1:
        legacy.drop(connection)  # it was authward's alone
