"""``authward audit`` and ``authward openapi``, run as an operator would."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from authward.cli.main import app
from tests.conftest import CHEAP_ARGON2, TEST_SECRET

runner = CliRunner()


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("AUTHWARD_DATABASE_URL", f"sqlite:///{tmp_path}/cli.db")
    monkeypatch.setenv("AUTHWARD_SECRET_KEY", TEST_SECRET)
    for name, value in CHEAP_ARGON2.items():
        monkeypatch.setenv(f"AUTHWARD_{name.upper()}", str(value))
    return tmp_path


def test_audit_prints_the_events_of_the_command_line_too(env: Path) -> None:
    created = runner.invoke(
        app, ["users", "create", "ada@example.com", "--password-stdin"], input="a good password\n"
    )
    assert created.exit_code == 0, created.output
    assert runner.invoke(app, ["keys", "rotate"]).exit_code == 0
    table = runner.invoke(app, ["audit"], env={"COLUMNS": "200"})
    assert table.exit_code == 0, table.output
    assert "register" in table.output and "key_rotated" in table.output
    records = json.loads(
        runner.invoke(app, ["audit", "--json", "--user", "ADA@example.com"]).output
    )
    assert [r["event"] for r in records] == ["register"]
    assert set(records[0]) == {
        "id",
        "at",
        "event",
        "user_id",
        "via",
        "handle",
        "ip",
        "user_agent",
        "device",
    }
    only_keys = runner.invoke(app, ["audit", "--json", "--event", "key_rotated"]).output
    assert len(json.loads(only_keys)) == 1


def test_audit_refuses_an_unknown_event_kind(env: Path) -> None:
    result = runner.invoke(app, ["audit", "--event", "logon"])
    assert result.exit_code == 2
    assert "register" in result.output


def test_openapi_prints_the_document(env: Path) -> None:
    result = runner.invoke(app, ["openapi"])
    assert result.exit_code == 0
    assert "/auth/token" in json.loads(result.output)["paths"]
    assert not (env / "authward.key").exists()
