"""What an operator does for an account's owner: mail a reset link, turn second factors off.

The commands run through Typer's runner against the SQLite file of a runtime that plays a
running node (as in test_admin_cli): what a command queues, the node's sender sends.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime

import httpx
import pytest

from authward import crypto
from authward.clock import FrozenClock
from authward.runtime import Runtime
from authward.throttle.policy import ThrottlePolicy
from tests.cli.test_admin_cli import cli, cli_env
from tests.web.helpers import PASSWORD
from tests.web.mfa_helpers import Enrolled, enrolled, first_step

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


async def signed_in(client: httpx.AsyncClient, clock: FrozenClock, ada: Enrolled) -> dict[str, str]:
    """A session (the client's cookie) and a token pair, each past its second step."""
    token = await first_step(client, ada_email)
    session = await client.post(
        "/auth/mfa", json={"mfa_token": token, "code": ada.code(clock.now())}
    )
    assert session.status_code == 200, session.text
    clock.advance(30)
    token = await first_step(client, ada_email, "/auth/token")
    pair = await client.post("/auth/mfa", json={"mfa_token": token, "code": ada.code(clock.now())})
    assert pair.status_code == 200, pair.text
    return dict(pair.json())


ada_email = "ada@example.com"


async def test_mfa_reset_turns_factors_off_and_ends_what_the_account_holds(
    client: httpx.AsyncClient, clock: FrozenClock, runtime: Runtime
) -> None:
    ada = await enrolled(client, clock, ada_email)
    pair = await signed_in(client, clock, ada)
    bearer = {"Authorization": f"Bearer {pair['access_token']}"}
    pending = await first_step(client, ada_email)  # someone halfway through the second step
    assert (await client.get("/auth/me")).status_code == 200
    assert (await client.get("/auth/me", headers=bearer)).status_code == 200
    before = {m.id for m in await runtime.mail_queue.entries()}

    result = await cli("users", "mfa-reset", ada_email, "--yes")
    assert result.exit_code == 0, result.output
    assert result.output.strip() == (
        "turned off the second factors of ada@example.com; its sessions and tokens are revoked"
    )

    status = await runtime.factors.status(ada.user_id)
    assert not status.totp and status.recovery_codes_left == 0
    assert await runtime.factors.store.unused_codes(ada.user_id) == []
    await runtime.tokens.sync_revocations()  # what the node's poll does every second
    assert (await client.get("/auth/me")).status_code == 401
    assert (await client.get("/auth/me", headers=bearer)).status_code == 401
    refresh = await client.post(
        "/auth/token/refresh", json={"refresh_token": pair["refresh_token"]}
    )
    assert refresh.status_code == 401
    assert await runtime.factors.store.get_challenge(crypto.digest(pending)) is None
    late = await client.post(
        "/auth/mfa", json={"mfa_token": pending, "recovery_code": ada.recovery_codes[0]}
    )
    assert late.status_code == 401
    # The owner starts again from the password alone.
    again = await client.post(
        "/auth/session/login", json={"email": ada_email, "password": PASSWORD}
    )
    assert again.status_code == 200 and "mfa_required" not in again.json()

    mails = [m for m in await runtime.mail_queue.entries() if m.id not in before]
    assert [(m.to, m.template) for m in mails] == [(ada_email, "security_notice")]
    audit = json.loads((await cli("audit", "--json", "--user", ada.user_id)).output)
    assert "mfa_reset" in [r["event"] for r in audit]


async def test_mfa_reset_asks_first_and_no_keeps_the_factor(
    client: httpx.AsyncClient, clock: FrozenClock, runtime: Runtime
) -> None:
    ada = await enrolled(client, clock, ada_email)
    refused = await cli("users", "mfa-reset", ada_email, stdin="n\n")
    assert refused.exit_code != 0
    assert (await runtime.factors.status(ada.user_id)).totp
    unknown = await cli("users", "mfa-reset", "nobody@example.com", "--yes")
    assert unknown.exit_code == 1
    assert unknown.output.strip() == "authward: Not found."
