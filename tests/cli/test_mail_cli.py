"""``authward mail list|retry``, run as an operator would."""

from __future__ import annotations

import json
from pathlib import Path

import anyio
import pytest
from typer.testing import CliRunner

from authward.cli.main import app
from authward.mail import Mail
from authward.runtime import build_runtime
from authward.settings import Settings
from tests.conftest import CHEAP_ARGON2, TEST_SECRET

runner = CliRunner()
LINK = "https://auth.example.com/reset?token=the-live-token"


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("AUTHWARD_DATABASE_URL", f"sqlite:///{tmp_path}/cli.db")
    monkeypatch.setenv("AUTHWARD_SECRET_KEY", TEST_SECRET)
    for name, value in CHEAP_ARGON2.items():
        monkeypatch.setenv(f"AUTHWARD_{name.upper()}", str(value))
    return tmp_path


def queue_mails(*recipients: str) -> None:
    async def main() -> None:
        runtime = build_runtime(Settings())
        await runtime.open(background=False)
        try:
            for to in recipients:
                mail = Mail(to, "password_reset", {"email": to, "link": LINK})
                await runtime.outbox.enqueue(mail)
        finally:
            await runtime.close()

    anyio.run(main)


def listed(*args: str) -> list[dict[str, object]]:
    result = runner.invoke(app, ["mail", "list", "--json", *args])
    assert result.exit_code == 0, result.output
    records = json.loads(result.output)
    assert isinstance(records, list)
    return records


def test_list_shows_each_mail_whole_and_never_its_body(env: Path) -> None:
    queue_mails("a-rather-long-recipient-address-for-a-table@subdomain.example.com")
    table = runner.invoke(app, ["mail", "list"], env={"COLUMNS": "40"})
    assert table.exit_code == 0, table.output
    [entry] = listed()
    # Whole values on a 40-column terminal: an id or an address can be copied from it.
    created = str(entry["created_at"]).replace("T", " ")[:19]
    for value in (entry["id"], entry["to"], created):
        assert any(str(value) in line for line in table.output.splitlines()), table.output
    assert "…" not in table.output
    assert "password_reset" in table.output and "queued" in table.output
    assert set(entry) == {
        "id",
        "to",
        "template",
        "state",
        "attempts",
        "created_at",
        "next_attempt_at",
        "sent_at",
        "last_error",
    }
    for output in (table.output, json.dumps(entry)):
        assert "the-live-token" not in output and "Reset your password" not in output


def test_list_filters_by_state_and_refuses_an_unknown_one(env: Path) -> None:
    queue_mails("ada@example.com")
    assert [e["state"] for e in listed("--state", "queued")] == ["queued"]
    assert listed("--state", "sent") == []
    refused = runner.invoke(app, ["mail", "list", "--state", "lost"])
    assert refused.exit_code == 2 and "queued" in refused.output


def test_retry_queues_a_mail_again_and_refuses_an_unknown_id(env: Path) -> None:
    queue_mails("ada@example.com")
    [entry] = listed()
    result = runner.invoke(app, ["mail", "retry", str(entry["id"])])
    assert result.exit_code == 0, result.output
    assert listed()[0]["state"] == "queued"
    unknown = runner.invoke(app, ["mail", "retry", "-AAAAAAAAAAAAAAA"])  # a leading "-" too
    assert unknown.exit_code == 1


def test_list_is_read_only_and_creates_no_database(env: Path) -> None:
    result = runner.invoke(app, ["mail", "list"])
    assert result.exit_code == 1
    assert "creates none" in result.output
    assert not (env / "cli.db").exists()
