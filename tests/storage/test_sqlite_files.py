"""The SQLite database and the files beside it are readable by their owner only.

They hold password hashes, emails and the audit log. Each test runs authward as an
operator would, under the usual umask (022), which alone would make every file 0644.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from authward.storage.sql import create_engine
from tests.conftest import TEST_SECRET
from tests.servers import CHEAP_ARGON2_ENV, running_server

USUAL_UMASK = 0o022


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_served_database_its_wal_and_its_shm_are_owner_only(tmp_path: Path) -> None:
    with running_server(tmp_path, umask=USUAL_UMASK) as base:
        account = {"email": "ada@example.com", "password": "a good password"}
        assert httpx.post(f"{base}/auth/register", json=account).status_code == 201
        # While the server runs, SQLite keeps its write-ahead log and shared memory open.
        files = ("authward.db", "authward.db-wal", "authward.db-shm", "authward.key")
        modes = {name: oct(mode(tmp_path / name)) for name in files}
        assert modes == dict.fromkeys(files, "0o600")


def test_the_database_made_by_db_upgrade_is_owner_only(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "AUTHWARD_DATABASE_URL": f"sqlite:///{tmp_path}/authward.db",
        "AUTHWARD_SECRET_KEY": TEST_SECRET,
        **CHEAP_ARGON2_ENV,
    }
    subprocess.run(  # noqa: S603 - our own entry point
        [sys.executable, "-m", "authward", "db", "upgrade"],
        cwd=tmp_path,
        env=env,
        umask=USUAL_UMASK,
        check=True,
        capture_output=True,
        timeout=120,
    )
    made = sorted(path.name for path in tmp_path.iterdir())
    assert "authward.db" in made
    assert {name: oct(mode(tmp_path / name)) for name in made} == dict.fromkeys(made, "0o600")


async def test_an_existing_database_others_could_read_is_tightened_with_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    database = tmp_path / "authward.db"
    wal = tmp_path / "authward.db-wal"
    for path in (database, wal):  # as an older authward left them, after a crash
        path.touch()
        path.chmod(0o644)
    engine = create_engine(f"sqlite:///{database}")
    try:
        with caplog.at_level(logging.WARNING, logger="authward.security"):
            async with contextlib.AsyncExitStack() as held:
                for _ in range(3):  # three connections, each checks: still one warning a file
                    conn = await held.enter_async_context(engine.connect())
                    await conn.execute(text("CREATE TABLE IF NOT EXISTS t (x INTEGER)"))
    finally:
        await engine.dispose()
    assert mode(database) == 0o600
    tightened = [r for r in caplog.records if getattr(r, "event", None) == "file_mode_tightened"]
    assert len(tightened) == 2
    assert str(database) in tightened[0].getMessage()
    assert "0644" in tightened[0].getMessage()


async def test_a_database_in_a_missing_folder_is_still_sqlites_error(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path}/missing/authward.db")
    try:
        with pytest.raises(OperationalError, match="unable to open database file"):
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
    finally:
        await engine.dispose()
    assert not (tmp_path / "missing").exists()
