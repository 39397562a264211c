"""What an operator does with accounts, sessions and keys: whole values, --json, the
new commands, and an audit event for each admin action.

The commands run through Typer's runner against the SQLite file of a runtime that plays
a running node: what a command changes, that node must see.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import anyio.to_thread
import pytest
from typer.testing import CliRunner, Result

from authward.cli.main import app
from authward.ids import Device
from authward.runtime import Runtime
from authward.settings import Settings
from tests.cli.test_failures import authward
from tests.conftest import CHEAP_ARGON2, TEST_SECRET, http_client
from tests.web.helpers import PASSWORD, register, session_login

runner = CliRunner()

FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:126.0) Gecko/20100101 Firefox/126.0"
# Long enough that any column of a 60-column table would have to cut or fold it.
LONG_EMAIL = "a.very.long.mailbox.name.that.will.not.fit@subdomain.example.org"


@pytest.fixture(autouse=True)
def cli_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI on the same database and secret as the `runtime` fixture (the node)."""
    monkeypatch.setenv("AUTHWARD_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("AUTHWARD_SECRET_KEY", TEST_SECRET)
    for name, value in CHEAP_ARGON2.items():
        monkeypatch.setenv(f"AUTHWARD_{name.upper()}", str(value))


async def cli(*args: str, stdin: str | None = None, columns: int = 200) -> Result:
    """Run the command in a thread (it runs an event loop of its own)."""

    def invoke() -> Result:
        return runner.invoke(app, list(args), input=stdin, env={"COLUMNS": str(columns)})

    return await anyio.to_thread.run_sync(invoke)


def whole_on_one_line(value: str, output: str) -> bool:
    return any(value in line for line in output.splitlines())


async def test_listings_print_whole_values_on_a_60_column_terminal(runtime: Runtime) -> None:
    user = await runtime.accounts.register(LONG_EMAIL, PASSWORD)
    started = await runtime.sessions.start(user.id, Device.of(FIREFOX, "2001:db8::17"))
    pair = await runtime.tokens.issue(user.id, Device.of("curl/8.5.0", "198.51.100.9"))
    key = await runtime.tokens.rotate_keys()
    expected = {
        ("users", "list"): [user.id, LONG_EMAIL, f"{user.created_at:%Y-%m-%d %H:%M:%S}"],
        ("sessions", "list", user.id): [
            started.session.handle,
            pair.family.id,
            "Firefox 126 on Windows 10",  # named as the devices page names it (ua-parser)
            "2001:db8::17",
        ],
        ("keys", "list"): [key.kid],
        ("audit",): [user.id, key.kid, "key_rotated", "Firefox 126 on Windows 10"],
        ("config",): ["AUTHWARD_SESSION_ABSOLUTE_TTL", "AUTHWARD_LOGIN_ADDRESS_MAX_FAILURES"],
    }
    for command, values in expected.items():
        result = await cli(*command, columns=60)
        assert result.exit_code == 0, result.output
        if command != ("config",):  # its descriptions may hold an ellipsis of their own
            assert "…" not in result.output
        for value in values:
            assert whole_on_one_line(value, result.output), (command, value, result.output)


@pytest.mark.parametrize(
    ("command", "field"),
    [
        (("users", "list"), "id"),
        (("sessions", "list", "ada@example.com"), "id"),
        (("keys", "list"), "kid"),
        (("audit",), "event"),
        (("config",), "variable"),
    ],
)
async def test_every_listing_takes_json(
    runtime: Runtime, command: tuple[str, ...], field: str
) -> None:
    user = await runtime.accounts.register("ada@example.com", PASSWORD)
    started = await runtime.sessions.start(user.id, Device.of(FIREFOX, "203.0.113.5"))
    await runtime.tokens.rotate_keys()
    result = await cli(*command, "--json", columns=40)
    assert result.exit_code == 0, result.output
    records = json.loads(result.output)
    assert isinstance(records, list) and records
    assert all(isinstance(r, dict) and r.get(field) for r in records)
    if command[0] == "sessions":
        assert records[0]["id"] == started.session.handle
        assert records[0]["user_agent"] == FIREFOX  # the raw agent too, whole
    if command[0] == "users":
        assert records[0]["id"] == user.id
        assert records[0]["created_at"] == user.created_at.isoformat()


async def test_disable_then_enable_and_each_is_audited(runtime: Runtime) -> None:
    user = await runtime.accounts.register("ada@example.com", PASSWORD)
    assert (await cli("users", "disable", user.id)).exit_code == 0
    assert (await runtime.accounts.find(user.id)).disabled  # type: ignore[union-attr]
    enabled = await cli("users", "enable", "ADA@example.com")
    assert enabled.exit_code == 0, enabled.output
    assert "enabled ada@example.com" in enabled.output
    assert not (await runtime.accounts.find(user.id)).disabled  # type: ignore[union-attr]
    await runtime.accounts.authenticate("ada@example.com", PASSWORD, address="192.0.2.1")
    audit = json.loads((await cli("audit", "--json", "--user", user.id)).output)
    assert [r["event"] for r in audit][:3] == ["user_enabled", "user_disabled", "revoke"]


async def test_delete_asks_first_and_no_keeps_the_account(runtime: Runtime) -> None:
    user = await runtime.accounts.register("ada@example.com", PASSWORD)
    refused = await cli("users", "delete", "ada@example.com", stdin="n\n")
    assert refused.exit_code != 0
    assert "Delete the account ada@example.com" in refused.output
    assert await runtime.accounts.find(user.id) == user


async def test_delete_ends_sessions_and_tokens_on_a_running_node(runtime: Runtime) -> None:
    async with http_client(runtime) as node:
        user_id = await register(node, "ada@example.com")
        await session_login(node, "ada@example.com")
        tokens = (
            await node.post("/auth/token", json={"email": "ada@example.com", "password": PASSWORD})
        ).json()
        bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
        assert (await node.get("/auth/me", headers=bearer)).status_code == 200
        assert (await node.get("/auth/me")).status_code == 200  # the session cookie

        deleted = await cli("users", "delete", "ada@example.com", "--yes")
        assert deleted.exit_code == 0, deleted.output
        assert user_id in deleted.output

        await runtime.tokens.sync_revocations()  # what the node's poll does every second
        assert (await node.get("/auth/me", headers=bearer)).status_code == 401
        assert (await node.get("/auth/me")).status_code == 401
        refresh = await node.post(
            "/auth/token/refresh", json={"refresh_token": tokens["refresh_token"]}
        )
        assert refresh.status_code == 401
    assert await runtime.accounts.find(user_id) is None
    assert await runtime.tokens.refresh_tokens.store.list_user(user_id) == []
    assert await runtime.sessions.list_live(user_id) == []
    # The deleted account's history stays, found by its id.
    audit = json.loads((await cli("audit", "--json", "--user", user_id)).output)
    assert audit[0]["event"] == "user_deleted"
    assert "login" in [r["event"] for r in audit]


async def test_delete_of_nobody_is_one_line(runtime: Runtime) -> None:
    result = await cli("users", "delete", "nobody@example.com", "--yes")
    assert result.exit_code == 1
    assert result.output.strip() == "authward: Not found."


async def test_revoke_without_an_id_or_all_says_what_to_give(runtime: Runtime) -> None:
    await runtime.accounts.register("ada@example.com", PASSWORD)
    neither = await cli("sessions", "revoke", "ada@example.com")
    assert neither.exit_code == 2
    assert "give a session or family id" in neither.output and "--all" in neither.output
    assert "not both" not in neither.output
    both = await cli("sessions", "revoke", "ada@example.com", "some-id", "--all")
    assert both.exit_code == 2
    assert "not both" in both.output


def test_version_comes_from_the_package_metadata() -> None:
    from importlib.metadata import version

    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"authward {version('authward')}"


@pytest.mark.parametrize(
    "command", [(), ("users",), ("users", "delete"), ("sessions", "revoke"), ("serve",)]
)
def test_dash_h_is_help_everywhere(command: tuple[str, ...]) -> None:
    short = runner.invoke(app, [*command, "-h"], env={"COLUMNS": "120"})
    long = runner.invoke(app, [*command, "--help"], env={"COLUMNS": "120"})
    assert short.exit_code == 0, short.output
    assert re.search(r"Usage: .*authward", short.output)
    assert short.output == long.output


def test_each_admin_command_prints_one_line_and_nothing_else(tmp_path: Path) -> None:
    """As a process: no log line (an event's, a key's) leaks to the terminal beside it."""
    steps = [
        (("users", "create", "ada@example.com", "--password-stdin"), "a good password\n"),
        (("users", "disable", "ada@example.com"), ""),
        (("users", "enable", "ada@example.com"), ""),
        (("users", "reset-password", "ada@example.com"), ""),
        (("users", "mfa-reset", "ada@example.com", "--yes"), ""),
        (("keys", "rotate"), ""),
        (("sessions", "revoke", "ada@example.com", "--all"), ""),
        (("users", "delete", "ada@example.com", "--yes"), ""),
    ]
    # A folder of its own: the module's `settings` (cli_env) has put the node's database
    # in tmp_path already, and this first command must be the one that makes a database.
    folder = tmp_path / "operator"
    folder.mkdir()
    for index, (command, stdin) in enumerate(steps):
        result = authward(folder, {}, *command, stdin=stdin)
        assert result.returncode == 0, result.stderr
        notices = result.stderr.splitlines()
        if index == 0:  # the first command makes the database and says, once, where it lives
            assert len(notices) == 1, result.stderr
            assert notices[0].startswith(f"created the SQLite database {folder / 'authward.db'}")
        else:
            assert notices == []
        assert len(result.stdout.strip().splitlines()) == 1, result.stdout
