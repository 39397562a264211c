"""The command line imports what a command uses: `--help` loads neither the web app nor a
store's client, and a command's runtime loads no web framework.

Every process of the command (an operator's, each test that runs one) pays its imports
before it does anything, so which packages a command loads is checked here: in a fresh
interpreter (this one has long since imported everything), by name, never by time.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer.main
from typer.testing import CliRunner

import authward
from authward.cli.main import app
from tests.conftest import TEST_SECRET
from tests.servers import CHEAP_ARGON2_ENV

# What the service needs and `authward --help` does not. (Not pydantic: Typer itself
# loads it to check an option's bounds, `audit --limit` for one.)
HEAVY = (
    "alembic",
    "fastapi",
    "httpx",
    "jinja2",
    "redis",
    "sqlalchemy",
    "starlette",
    "uvicorn",
    "webauthn",
)
# What a command's runtime on SQLite still does without: the web layer, Alembic (a read
# only command migrates nothing), the Redis client (no AUTHWARD_REDIS_URL), httpx (no
# AUTHWARD_BREACHED_PASSWORDS).
NOT_FOR_A_COMMAND = ("alembic", "fastapi", "httpx", "redis", "starlette", "uvicorn")

# Runs `authward ARGS` for each ARGS of argv[2] (JSON) in this one interpreter, and prints,
# after each, its exit status and the packages of HEAVY (argv[1]) loaded so far.
PROBE = """
import json, sys
from authward.cli.main import app
heavy, runs = json.loads(sys.argv[1]), json.loads(sys.argv[2])
seen = {"": [None, sorted({m.split(".")[0] for m in sys.modules} & set(heavy))]}
for args in runs:
    try:
        app(args, prog_name="authward")
        status = None
    except SystemExit as exc:
        status = exc.code
    seen[" ".join(args)] = [status, sorted({m.split(".")[0] for m in sys.modules} & set(heavy))]
print("LOADED " + json.dumps(seen))
"""


def loaded_by(
    runs: list[list[str]], cwd: Path, env: dict[str, str] | None = None
) -> dict[str, list[str]]:
    """For each run of `authward` (in order, in one fresh interpreter), HEAVY's packages
    loaded by then; the key "" is importing the entry point alone. Every run succeeds."""
    # The suite's own AUTHWARD_* variables are left behind: each case sets what it means.
    base = {k: v for k, v in os.environ.items() if not k.startswith("AUTHWARD_")}
    # The probe imports the authward this process tests, wherever the probe runs (`cwd`).
    source = str(Path(authward.__file__).resolve().parents[1])
    base["PYTHONPATH"] = os.pathsep.join([source, base.get("PYTHONPATH", "")])
    result = subprocess.run(  # noqa: S603 - our own interpreter, our own code
        [sys.executable, "-c", PROBE, json.dumps(HEAVY), json.dumps(runs)],
        cwd=cwd,
        env={**base, **CHEAP_ARGON2_ENV, "AUTHWARD_SECRET_KEY": TEST_SECRET, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    line = next(x for x in result.stdout.splitlines() if x.startswith("LOADED "))
    seen: dict[str, tuple[int | None, list[str]]] = json.loads(line.removeprefix("LOADED "))
    for args, (status, _) in seen.items():
        assert status in (None, 0), f"authward {args}: exit {status}\n{result.stderr}"
    return {args: loaded for args, (_, loaded) in seen.items()}


def every_command() -> list[list[str]]:
    """The path of every group and command: [], ["users"], ["users", "list"], ..."""
    paths: list[list[str]] = []

    def walk(command: Any, path: list[str]) -> None:
        paths.append(path)
        for name, sub in sorted(getattr(command, "commands", {}).items()):
            walk(sub, [*path, name])

    walk(typer.main.get_command(app), [])
    return paths


def test_the_entry_point_and_every_help_load_none_of_them(tmp_path: Path) -> None:
    helps = [[*path, "--help"] for path in every_command()]
    assert len(helps) > 20  # the walk found the groups' commands too
    loaded = loaded_by(helps, tmp_path)
    assert loaded[""] == [], "importing authward.cli.main"
    for args in helps:
        assert loaded[" ".join(args)] == [], f"authward {' '.join(args)}"


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A migrated SQLite file with one account, made in this process; the variables that
    name it for a probe."""
    env = {
        "AUTHWARD_DATABASE_URL": f"sqlite:///{tmp_path}/cli.db",
        "AUTHWARD_KEY_FILE": str(tmp_path / "authward.key"),
    }
    for name, value in {**env, **CHEAP_ARGON2_ENV, "AUTHWARD_SECRET_KEY": TEST_SECRET}.items():
        monkeypatch.setenv(name, value)
    runner = CliRunner()
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    created = runner.invoke(
        app, ["users", "create", "ada@example.com", "--password-stdin"], input="a good pw 1\n"
    )
    assert created.exit_code == 0, created.output
    return env


@pytest.mark.parametrize(
    "command",
    [["users", "list"], ["sessions", "list", "ada@example.com"], ["audit"], ["config"]],
    ids=" ".join,
)
def test_a_command_loads_no_web_layer_nor_unused_store_client(
    tmp_path: Path, database: dict[str, str], command: list[str]
) -> None:
    loaded = loaded_by([command], tmp_path, database)[" ".join(command)]
    assert not set(loaded) & set(NOT_FOR_A_COMMAND), loaded
    # The probe sees what a command does load: one that saw nothing would prove nothing.
    if command != ["config"]:
        assert {"jinja2", "sqlalchemy"} <= set(loaded)


def test_the_probe_sees_the_web_app_where_a_command_needs_it(tmp_path: Path) -> None:
    loaded = loaded_by([["openapi"]], tmp_path)
    assert {"fastapi", "starlette"} <= set(loaded["openapi"])
