"""The command line, run as an operator would (Typer's runner, real SQLite)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from authward.cli import sweep as cli_sweep
from authward.cli.config import reference_markdown
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


def test_db_upgrade_then_users_create_list_disable(env: Path) -> None:
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    created = runner.invoke(
        app, ["users", "create", "Ada@Example.com", "--password-stdin"], input="a good password\n"
    )
    assert created.exit_code == 0, created.output
    assert "ada@example.com" in created.output
    listed = runner.invoke(app, ["users", "list"])
    assert "ada@example.com" in listed.output and "active" in listed.output
    disabled = runner.invoke(app, ["users", "disable", "ADA@example.com"])
    assert disabled.exit_code == 0, disabled.output
    assert "disabled" in runner.invoke(app, ["users", "list"]).output


def test_duplicate_user_is_one_line_and_exit_1(env: Path) -> None:
    for expected in (0, 1):
        result = runner.invoke(
            app,
            ["users", "create", "ada@example.com", "--password-stdin"],
            input="a good password\n",
        )
        assert result.exit_code == expected
    assert "already registered" in result.output


def test_bad_setting_stops_with_one_line_naming_it(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUTHWARD_LEEWAY", "99")
    result = runner.invoke(app, ["serve"])
    assert result.exit_code == 2
    assert "AUTHWARD_LEEWAY" in result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_sweep_reports_counts_at_low_priority(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lowered: list[int] = []  # not os.nice itself: it would slow the rest of the suite
    monkeypatch.setattr(cli_sweep.os, "nice", lowered.append)
    result = runner.invoke(app, ["sweep"])
    assert result.exit_code == 0, result.output
    assert "sessions: 0 removed" in result.output
    assert lowered == [cli_sweep.SWEEP_NICENESS]
    assert runner.invoke(app, ["sweep", "--nice", "0"]).exit_code == 0
    assert lowered == [cli_sweep.SWEEP_NICENESS]


def test_sessions_list_and_revoke_all(env: Path) -> None:
    runner.invoke(
        app, ["users", "create", "ada@example.com", "--password-stdin"], input="a good password\n"
    )
    listed = runner.invoke(app, ["sessions", "list", "ada@example.com"])
    assert listed.exit_code == 0, listed.output
    revoked = runner.invoke(app, ["sessions", "revoke", "ada@example.com", "--all"])
    assert revoked.exit_code == 0, revoked.output
    unknown = runner.invoke(app, ["sessions", "list", "nobody@example.com"])
    assert unknown.exit_code == 1


def test_sessions_revoke_takes_a_handle_that_starts_with_a_dash(env: Path) -> None:
    """Handles are URL-safe base64: one in 64 starts with "-", and must not read as an option."""
    runner.invoke(
        app, ["users", "create", "ada@example.com", "--password-stdin"], input="a good password\n"
    )
    revoked = runner.invoke(app, ["sessions", "revoke", "ada@example.com", "-AAAAAAAAAAAAAAA"])
    # Read as the handle it is (of no session of hers), not refused as an unknown option.
    assert revoked.exit_code == 1, revoked.output
    assert "Not found" in revoked.output


def test_configuration_reference_is_up_to_date() -> None:
    committed = (Path(__file__).parents[2] / "docs" / "configuration.md").read_text()
    assert committed == reference_markdown(), (
        "run: authward config --markdown > docs/configuration.md"
    )
