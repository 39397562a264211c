"""Issue 18: an app with its own `users` table and its own Alembic history shares its
database with authward; both migrate, each ignores the other, and a login works.

The app's Alembic environment is a real one, written to a temporary directory the way
docs/embedding.md shows, and run by the `alembic` command in a process of its own.
"""

import subprocess
import sys
from pathlib import Path

import anyio
import httpx
import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from authward import Authward
from authward.cli.main import app as cli
from authward.storage.sql import async_url, create_engine
from tests.conftest import NewDatabase, make_settings
from tests.integration.conftest import make_app
from tests.web.helpers import PASSWORD, register

ENV = """
import asyncio

from alembic import context
from sqlalchemy import Column, Integer, MetaData, String, Table
from sqlalchemy.ext.asyncio import create_async_engine

metadata = MetaData()
Table("users", metadata, Column("id", Integer, primary_key=True), Column("name", String(50)))


def include_name(name, type_, parent_names):
    # authward migrates its own tables (and keeps its own version table): not ours.
    return not (type_ == "table" and name.startswith("authward_"))


def run(connection):
    context.configure(
        connection=connection, target_metadata=metadata, include_name=include_name
    )
    with context.begin_transaction():
        context.run_migrations()


async def main():
    engine = create_async_engine(context.config.get_main_option("sqlalchemy.url"))
    async with engine.connect() as connection:
        await connection.run_sync(run)
        await connection.commit()
    await engine.dispose()


asyncio.run(main())
"""

REVISION = """
import sqlalchemy as sa
from alembic import op

revision = "app_0001"
down_revision = None


def upgrade():
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(50)),
    )


def downgrade():
    op.drop_table("users")
"""


def write_app_alembic(directory: Path, url: str) -> Path:
    """An app's own Alembic environment, with one revision: its `users` table."""
    (directory / "versions").mkdir(parents=True)
    (directory / "env.py").write_text(ENV)
    (directory / "versions" / "app_0001_users.py").write_text(REVISION)
    ini = directory / "alembic.ini"
    ini.write_text(
        f"[alembic]\nscript_location = {directory}\n"
        f"sqlalchemy.url = {async_url(url).replace('%', '%%')}\n"
    )
    return ini


async def alembic(ini: Path, *args: str) -> str:
    done = await anyio.run_process([sys.executable, "-m", "alembic", "-c", str(ini), *args])
    return done.stdout.decode()


async def test_an_app_with_its_own_users_and_alembic_history(
    new_database: NewDatabase, tmp_path: Path
) -> None:
    url = await new_database()
    ini = write_app_alembic(tmp_path / "app_alembic", url)
    await alembic(ini, "upgrade", "head")
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO users (id, name) VALUES (7, 'the app''s')"))

        auth = Authward(make_settings(tmp_path, database_url=url))
        async with auth:  # migrates authward's own tables
            transport = httpx.ASGITransport(app=make_app(auth))
            async with httpx.AsyncClient(
                transport=transport, base_url="https://testserver"
            ) as client:
                await register(client, "ada@example.com")
                login = await client.post(
                    "/auth/session/login", json={"email": "ada@example.com", "password": PASSWORD}
                )
                assert login.status_code == 200, login.text
                assert (await client.get("/whoami")).status_code == 200

        # The app's history and rows are its own, and its autogenerate sees no change:
        # authward's tables are outside its metadata, and excluded by include_name.
        assert "app_0001 (head)" in await alembic(ini, "current")
        await alembic(ini, "check")
        await alembic(ini, "upgrade", "head")
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT id, name FROM users"))).all() == [
                (7, "the app's")
            ]
            version = await conn.scalar(text("SELECT version_num FROM alembic_version"))
            assert version == "app_0001"
            ours = await conn.scalar(text("SELECT count(*) FROM authward_users"))
            assert ours == 1
    finally:
        await engine.dispose()


def test_authward_db_upgrade_beside_the_apps_history(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The issue's own words: `authward db upgrade` on a database with an Alembic
    history and a `users` table of the app's (SQLite; the HTTP test covers both)."""
    url = f"sqlite:///{tmp_path}/app.db"
    ini = write_app_alembic(tmp_path / "app_alembic", url)
    app_alembic = [sys.executable, "-m", "alembic", "-c", str(ini)]
    subprocess.run([*app_alembic, "upgrade", "head"], check=True, capture_output=True)  # noqa: S603
    monkeypatch.setenv("AUTHWARD_DATABASE_URL", url)
    monkeypatch.setenv("AUTHWARD_KEY_FILE", str(tmp_path / "authward.key"))
    result = CliRunner().invoke(cli, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert "up to date" in result.output
    subprocess.run([*app_alembic, "check"], check=True, capture_output=True)  # noqa: S603
    current = subprocess.run([*app_alembic, "current"], check=True, capture_output=True)  # noqa: S603
    assert "app_0001 (head)" in current.stdout.decode()
