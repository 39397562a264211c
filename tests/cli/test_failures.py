"""A command that cannot work fails in one line naming the setting and its target.

Each case runs `authward` as an operator would (a subprocess, real servers or a real
port where nothing listens): exit status not 0, one line of output, no traceback, the
setting named, no password.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

from authward.cli.failures import CommandFailure, explain
from authward.errors import NotFound, StoreUnavailable
from tests.conftest import POSTGRES_ADMIN_URL, TEST_SECRET
from tests.servers import CHEAP_ARGON2_ENV, free_port

PASSWORD = "hunter2-not-shown"


def authward(
    cwd: Path, env: Mapping[str, str | None], *args: str, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    """Run the command in `cwd`; a None in `env` unsets that variable."""
    # The suite's own AUTHWARD_* variables are left behind: each case sets what it means.
    base = {k: v for k, v in os.environ.items() if not k.startswith("AUTHWARD_")}
    chosen = {**base, **CHEAP_ARGON2_ENV, "AUTHWARD_SECRET_KEY": TEST_SECRET, **env}
    return subprocess.run(  # noqa: S603 - our own interpreter and arguments
        [sys.executable, "-m", "authward", *args],
        cwd=cwd,
        env={k: v for k, v in chosen.items() if v is not None},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def assert_one_line(result: subprocess.CompletedProcess[str], *expected: str) -> str:
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "Traceback" not in output
    # A command that made a new SQLite file before the failure says so, once, on a line
    # of its own (where the accounts now live); the failure is the one other line.
    lines = [
        line
        for line in output.strip().splitlines()
        if not line.startswith("created the SQLite database ")
    ]
    assert len(lines) == 1, output
    for text in expected:
        assert text in lines[0], lines[0]
    assert PASSWORD not in output
    return lines[0]


COMMANDS = [("users", "create", "ada@example.com", "--password-stdin"), ("keys", "rotate")]


@pytest.mark.parametrize("command", COMMANDS)
def test_sqlite_file_in_a_missing_folder(tmp_path: Path, command: tuple[str, ...]) -> None:
    url = f"sqlite:///{tmp_path}/missing/authward.db"
    result = authward(tmp_path, {"AUTHWARD_DATABASE_URL": url}, *command, stdin="a good pw 1\n")
    assert_one_line(result, "AUTHWARD_DATABASE_URL", url, "folder", "does not exist")


def test_postgres_port_where_nothing_listens(tmp_path: Path) -> None:
    url = f"postgresql://postgres:{PASSWORD}@127.0.0.1:{free_port()}/authward"
    result = authward(tmp_path, {"AUTHWARD_DATABASE_URL": url}, "sweep")
    line = assert_one_line(result, "AUTHWARD_DATABASE_URL", "postgres:***@127.0.0.1")
    assert "Connect call failed" in line


def test_postgres_database_that_does_not_exist(tmp_path: Path, postgres_url: str) -> None:
    del postgres_url  # asked for to skip (or, in CI, fail) when PostgreSQL is not there
    server = POSTGRES_ADMIN_URL.rsplit("/", 1)[0]  # postgresql://postgres@127.0.0.1:5432
    url = server.replace("postgres@", f"postgres:{PASSWORD}@", 1) + "/authward_no_such_db"
    result = authward(tmp_path, {"AUTHWARD_DATABASE_URL": url}, "users", "list")
    assert_one_line(
        result, "AUTHWARD_DATABASE_URL", "/authward_no_such_db", "does not exist", ":***@"
    )


def test_redis_database_index_out_of_range(tmp_path: Path, redis_url: str) -> None:
    url = redis_url.rsplit("/", 1)[0].replace("://", f"://:{PASSWORD}@", 1) + "/99"
    result = authward(tmp_path, {"AUTHWARD_REDIS_URL": url}, "keys", "rotate")
    assert_one_line(result, "AUTHWARD_REDIS_URL", ":***@", "/99", "DB index is out of range")


def test_redis_database_index_out_of_range_stops_serve(tmp_path: Path, redis_url: str) -> None:
    url = redis_url.rsplit("/", 1)[0] + "/99"
    port = str(free_port())
    result = authward(tmp_path, {"AUTHWARD_REDIS_URL": url}, "serve", "--port", port)
    assert_one_line(result, "AUTHWARD_REDIS_URL", "DB index is out of range")


def test_redis_port_where_nothing_listens(tmp_path: Path) -> None:
    url = f"redis://:{PASSWORD}@127.0.0.1:{free_port()}/0"
    result = authward(tmp_path, {"AUTHWARD_REDIS_URL": url}, "sweep")
    assert_one_line(result, "AUTHWARD_REDIS_URL", "redis://:***@127.0.0.1", "onnect")


def test_missing_tls_certificate(tmp_path: Path) -> None:
    missing = tmp_path / "cert.pem"
    result = authward(
        tmp_path,
        {},
        "serve",
        *("--port", str(free_port()), "--ssl-certfile", str(missing)),
        *("--ssl-keyfile", str(tmp_path / "key.pem")),
    )
    assert_one_line(result, "--ssl-certfile", str(missing), "no such file")


def test_key_file_in_a_missing_folder(tmp_path: Path) -> None:
    env = {"AUTHWARD_SECRET_KEY": None, "AUTHWARD_KEY_FILE": str(tmp_path / "nope" / "k")}
    result = authward(tmp_path, env, "keys", "rotate")
    assert_one_line(result, "AUTHWARD_KEY_FILE", "nope", "does not exist")


@pytest.mark.parametrize(
    "command",
    [("users", "list"), ("sessions", "list", "ada@example.com"), ("audit",), ("keys", "list")],
)
def test_read_only_command_creates_no_database(tmp_path: Path, command: tuple[str, ...]) -> None:
    mistyped = tmp_path / "authwrad.db"
    result = authward(tmp_path, {"AUTHWARD_DATABASE_URL": f"sqlite:///{mistyped}"}, *command)
    assert_one_line(result, "AUTHWARD_DATABASE_URL", "no database at")
    assert not mistyped.exists()


@pytest.mark.parametrize("command", [("users", "list"), ("serve",), ("openapi",)])
def test_misspelt_setting_is_one_line_with_the_nearest_name(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    result = authward(tmp_path, {"AUTHWARD_ACESS_TTL": "60"}, *command)
    assert result.returncode == 2
    assert_one_line(result, "AUTHWARD_ACESS_TTL", "did you mean AUTHWARD_ACCESS_TTL?")


def test_unreadable_database_url_is_one_line_without_its_password(tmp_path: Path) -> None:
    url = f"postgresql://ada:{PASSWORD}@db.example:not-a-port/authward"
    result = authward(tmp_path, {"AUTHWARD_DATABASE_URL": url}, "users", "list")
    assert_one_line(result, "AUTHWARD_DATABASE_URL", "not a URL SQLAlchemy can read")


@pytest.mark.parametrize("command", [("serve", "--port", "0"), ("keys", "rotate")])
def test_signing_key_of_another_secret(tmp_path: Path, command: tuple[str, ...]) -> None:
    assert authward(tmp_path, {}, "keys", "rotate").returncode == 0  # made with TEST_SECRET
    other = {"AUTHWARD_SECRET_KEY": "another-secret-" + "9876543210zyxwvutsrqponmlkjihgfedcba"}
    result = authward(tmp_path, other, *command)
    assert_one_line(result, "does not open with this AUTHWARD_SECRET_KEY")


def test_every_expected_failure_has_its_line() -> None:
    """The translation point itself: what it says for failures no process can stage."""
    assert explain(StoreUnavailable("signing key")) == (
        "A backing store (signing key) is unavailable; try again shortly."
    )
    assert explain(NotFound()) == "Not found."
    assert explain(CommandFailure("--ssl-keyfile (k.pem): no such file")) == (
        r"--ssl-keyfile (k.pem): no such file"
    )
    assert explain(RuntimeError("a bug")) is None  # keeps its traceback
