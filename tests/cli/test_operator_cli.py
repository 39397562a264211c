"""What an operator does for an account's owner: mail a reset link, turn second factors off.

The commands run through Typer's runner against the SQLite file of a runtime that plays a
running node (as in test_admin_cli): what a command queues, the node's sender sends.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime

import pytest

from authward.clock import FrozenClock
from authward.runtime import Runtime
from authward.throttle.policy import ThrottlePolicy
from tests.cli.test_admin_cli import cli, cli_env
from tests.web.helpers import PASSWORD

__all__ = ["cli_env"]  # the autouse fixture, taken in by name

LINK = re.compile(r"https?://[^/ ]+/reset\?token=([A-Za-z0-9_-]+)")


async def test_reset_password_mails_a_link_that_sets_the_password(
    runtime: Runtime, clock: FrozenClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="authward.mail")
    user = await runtime.accounts.register("ada@example.com", PASSWORD)
    result = await cli("users", "reset-password", "ADA@example.com")
    assert result.exit_code == 0, result.output
    assert result.output.strip() == (
        "mailed a password reset link to ada@example.com; a running authward sends it"
    )
    # Development mode: the node's sender prints the mail, link and all, to its log.
    assert await runtime.mail.run_once() == 1
    token = LINK.search(caplog.text)
    assert token is not None, caplog.text
    assert token.group(1) not in result.output  # the operator never sees the link
    clock.set(datetime.now(UTC))  # the command issued the link by the wall clock
    await runtime.flows.reset.complete(token.group(1), "a brand new passphrase")
    await runtime.accounts.authenticate("ada@example.com", "a brand new passphrase", address="")
    audit = json.loads((await cli("audit", "--json", "--user", user.id)).output)
    assert "password_reset_sent" in [r["event"] for r in audit]


async def test_reset_password_is_not_held_back_by_the_mail_ceiling(runtime: Runtime) -> None:
    """The per-account ceiling is for strangers at /auth/password/forgot, not an operator."""
    await runtime.accounts.register("ada@example.com", PASSWORD)
    for _ in range(ThrottlePolicy.of(runtime.settings).mail_account_max + 1):
        await runtime.flows.reset.send("ada@example.com")
    before = len(await runtime.mail_queue.entries())
    assert (await cli("users", "reset-password", "ada@example.com")).exit_code == 0
    assert len(await runtime.mail_queue.entries()) == before + 1


async def test_reset_password_of_a_disabled_or_unknown_account_is_one_line(
    runtime: Runtime,
) -> None:
    user = await runtime.accounts.register("ada@example.com", PASSWORD)
    await runtime.lifecycle.disable(user.id)
    disabled = await cli("users", "reset-password", user.id)
    assert disabled.exit_code == 1
    assert disabled.output.strip() == "authward: The account is disabled: enable it first."
    unknown = await cli("users", "reset-password", "nobody@example.com")
    assert unknown.exit_code == 1
    assert unknown.output.strip() == "authward: Not found."
    assert await runtime.mail_queue.entries() == []
