"""Issue 18.4: an app that embeds authward is told what `authward serve` tells: that
its cookies are insecure, and which files authward created (once, by name)."""

import logging
from pathlib import Path

import pytest

from authward import Authward
from tests.conftest import make_settings


def events(caplog: pytest.LogCaptureFixture, event: str) -> list[logging.LogRecord]:
    return [
        r
        for r in caplog.records
        if r.name == "authward.security" and getattr(r, "event", None) == event
    ]


async def test_insecure_cookies_are_warned_of(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="authward.security"):
        async with Authward(make_settings(tmp_path, insecure_cookies=True)):
            pass
    (warning,) = events(caplog, "insecure_cookies")
    assert warning.levelno == logging.WARNING
    assert "AUTHWARD_INSECURE_COOKIES=1" in warning.getMessage()
    assert "never in production" in warning.getMessage()


async def test_secure_cookies_are_not(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="authward.security"):
        async with Authward(make_settings(tmp_path)):
            pass
    assert events(caplog, "insecure_cookies") == []


async def test_the_files_authward_creates_are_named_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    database, key = tmp_path / "app" / "authward.db", tmp_path / "app" / "authward.key"
    database.parent.mkdir()
    settings = make_settings(
        tmp_path, database_url=f"sqlite:///{database}", secret_key=None, key_file=str(key)
    )
    with caplog.at_level(logging.INFO, logger="authward.security"):
        async with Authward(settings):
            pass
        async with Authward(settings):  # the same files again: nothing new to tell
            pass
    (created_db,) = events(caplog, "database_created")
    (created_key,) = events(caplog, "key_file_created")
    assert str(database) in created_db.getMessage()
    assert str(key) in created_key.getMessage()
    secret = key.read_text().strip()
    assert all(secret not in record.getMessage() for record in caplog.records)
