"""Issue 18: authward's tables carry the prefix `authward_`, and its Alembic history a
version table of its own; a deployment of before is carried over, its rows kept."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import insert, inspect, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from authward.accounts.sql import SqlUserStore
from authward.audit import audit_log
from authward.revocation.sql import revocations
from authward.sessions.sql import sessions
from authward.storage.migrate import alembic_config, upgrade
from authward.storage.sql import create_engine
from authward.throttle.sql import login_failures
from authward.tokens.sql import refresh_families, refresh_spent, signing_keys
from tests.conftest import NewDatabase

RELEASED = Path(__file__).with_name("released_0005")
HEAD = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
NOW = datetime(2026, 12, 1, tzinfo=UTC)
PLAIN = (
    "users",
    "sessions",
    "login_failures",
    "signing_keys",
    "refresh_families",
    "refresh_spent",
    "revocations",
    "audit_log",
    "alembic_version",
)


@pytest.fixture
async def engines(new_database: NewDatabase) -> AsyncIterator[tuple[AsyncEngine, AsyncEngine]]:
    """Two engines on two new databases of one backend: one for a deployment, one fresh."""
    made = [create_engine(await new_database()), create_engine(await new_database())]
    yield made[0], made[1]
    for engine in made:
        await engine.dispose()


async def released_0005(engine: AsyncEngine) -> None:
    """Build the schema as authward 0005 left it: plain names, `alembic_version`."""

    def run(connection: Connection) -> None:
        config = Config()
        config.set_main_option("script_location", str(RELEASED))
        config.attributes["connection"] = connection
        command.upgrade(config, "0005")

    async with engine.begin() as conn:
        await conn.run_sync(run)


async def test_a_database_at_0005_is_renamed_with_its_rows(
    engines: tuple[AsyncEngine, AsyncEngine],
) -> None:
    deployed, fresh = engines
    await released_0005(deployed)
    async with deployed.begin() as conn:
        await _fill_plain_tables(conn)

    await upgrade(deployed)
    await upgrade(deployed)  # idempotent: the second finds nothing to do

    tables = await _tables(deployed)
    assert not tables & set(PLAIN), "plain names left behind"
    assert await _version(deployed) == HEAD
    user = await SqlUserStore(deployed).get_by_email("ada@example.com")
    assert user is not None and user.id == "u-ada"
    async with deployed.begin() as conn:
        for table in (sessions, login_failures, signing_keys, refresh_families, audit_log):
            assert len((await conn.execute(select(table))).all()) == 1, table.name
        # The parent's rebuild must not cascade into the spent tokens (SQLite).
        assert (await conn.execute(select(refresh_spent.c.family_id))).scalars().all() == ["f1"]
        added = await conn.execute(insert(revocations).values(_revocation("new")))
        # Ids only rise (issue 14): 3 was handed out, then deleted, before the rename.
        assert added.inserted_primary_key is not None
        assert added.inserted_primary_key[0] == 4

    # Name for name, the carried-over schema is the one a new database gets.
    await upgrade(fresh)
    assert await _schema(deployed) == await _schema(fresh)


async def test_a_new_database_shares_nothing_with_an_apps_names(
    engines: tuple[AsyncEngine, AsyncEngine],
) -> None:
    """An app's own `users`, `sessions`, `audit_log` and `alembic_version` (with a
    revision authward also has) stay the app's; authward creates its own beside them."""
    engine, _ = engines
    async with engine.begin() as conn:
        for table in ("users", "sessions", "audit_log"):
            await conn.execute(text(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY)"))
        await conn.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32))"))
        await conn.execute(text("INSERT INTO alembic_version VALUES ('0003')"))
    await upgrade(engine)
    assert await _version(engine) == HEAD
    async with engine.connect() as conn:
        app_version = await conn.scalar(text("SELECT version_num FROM alembic_version"))
    assert app_version == "0003"
    assert {"users", "sessions", "audit_log", "authward_users"} <= await _tables(engine)


async def _fill_plain_tables(conn: AsyncConnection) -> None:
    """One row in each table of 0005, by the names of then."""
    statements = [
        "INSERT INTO users (id, email, password_hash, disabled, created_at)"
        " VALUES ('u-ada', 'ada@example.com', 'h', false, :at)",
        "INSERT INTO sessions VALUES (:digest, 'h1', 'u-ada', :at, :at, :at, :at, 'ua', 'ip')",
        "INSERT INTO login_failures (key, at) VALUES (:digest, :at)",
        "INSERT INTO signing_keys VALUES (1, 'k1', 'EdDSA', :at, NULL, NULL, NULL)",
        "INSERT INTO refresh_families VALUES"
        " ('f1', 'u-ada', :digest, NULL, NULL, :at, :at, :at, 'ua', 'ip', NULL)",
        "INSERT INTO refresh_spent VALUES (:other, 'f1', :at)",
        "INSERT INTO audit_log (at, event, ip, user_agent) VALUES (:at, 'login', 'ip', 'ua')",
    ]
    values = {"at": NOW.replace(tzinfo=None), "digest": b"d" * 32, "other": b"o" * 32}
    for statement in statements:
        await conn.execute(text(statement), values)
    for subject in ("a", "b", "c"):
        await conn.execute(
            text(
                "INSERT INTO revocations (kind, subject, at, until) VALUES ('family', :s, :at, :u)"
            ),
            {"s": subject, "at": values["at"], "u": values["at"] + timedelta(days=1)},
        )
    await conn.execute(text("DELETE FROM revocations WHERE subject = 'c'"))


def _revocation(subject: str) -> dict[str, object]:
    return {"kind": "family", "subject": subject, "at": NOW, "until": NOW + timedelta(days=1)}


async def _tables(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as conn:
        return set(await conn.run_sync(lambda sync: inspect(sync).get_table_names()))


async def _version(engine: AsyncEngine) -> str | None:
    async with engine.connect() as conn:
        query = text("SELECT version_num FROM authward_alembic_version")
        version: str | None = await conn.scalar(query)
    return version


async def _schema(engine: AsyncEngine) -> dict[str, str]:
    """Every table, index, constraint and sequence by name, with its definition."""
    if engine.dialect.name == "sqlite":
        query = "SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL"
    else:
        query = """
            SELECT c.relname, c.relkind::text || ' ' || coalesce(pg_get_indexdef(c.oid), '')
              FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = 'public'
            UNION ALL
            SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint
             WHERE connamespace = 'public'::regnamespace
        """
    async with engine.connect() as conn:
        found = (await conn.execute(text(query))).all()
    # A table SQLite's batch mode rebuilt has its name quoted, and IF NOT EXISTS.
    return {
        name: re.sub(r"\s+", " ", (sql or "").replace('"', "").replace("IF NOT EXISTS ", ""))
        for name, sql in found
    }


async def test_0006_downgrades_to_the_plain_names_and_back(
    engines: tuple[AsyncEngine, AsyncEngine],
) -> None:
    engine, _ = engines
    await released_0005(engine)
    async with engine.begin() as conn:
        await _fill_plain_tables(conn)
    await upgrade(engine)
    before = await _schema(engine)

    def downgrade(connection: Connection) -> None:
        config = alembic_config(engine.url.render_as_string(hide_password=False))
        config.attributes["connection"] = connection
        command.downgrade(config, "0005")

    async with engine.connect() as conn:
        if engine.dialect.name == "sqlite":  # as authward's upgrade does: see 0006
            await conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
            await conn.commit()
        async with conn.begin():
            await conn.run_sync(downgrade)
    assert {"users", "refresh_spent", "revocations"} <= await _tables(engine)
    assert await _version(engine) == "0005"
    await upgrade(engine)
    assert await _schema(engine) == before
    async with engine.connect() as conn:
        assert (await conn.execute(select(refresh_spent.c.family_id))).scalars().all() == ["f1"]
