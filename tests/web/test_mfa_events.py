"""What second factors tell operators and hooks: events, security log lines, metrics."""

from __future__ import annotations

import logging

import httpx
import pytest

from authward.clock import FrozenClock
from authward.events import AuthEvent
from authward.metrics import MFA
from authward.runtime import Runtime
from tests.web.helpers import PASSWORD
from tests.web.mfa_helpers import enrolled, first_step

EMAIL = "ada@example.com"


def count(method: str, outcome: str) -> float:
    return MFA.labels(method, outcome)._value.get()


async def test_factor_changes_and_recovery_code_use_are_events(
    client: httpx.AsyncClient,
    clock: FrozenClock,
    runtime: Runtime,
    caplog: pytest.LogCaptureFixture,
) -> None:
    heard: list[AuthEvent] = []
    runtime.events.subscribe(heard.append)
    caplog.set_level(logging.INFO, logger="authward.security")
    ada = await enrolled(client, clock, EMAIL)
    token = await first_step(client, EMAIL)
    wrong = await client.post(
        "/auth/mfa", json={"mfa_token": token, "recovery_code": "aaaa-bbbb-cccc"}
    )
    assert wrong.status_code == 401
    done = await client.post(
        "/auth/mfa", json={"mfa_token": token, "recovery_code": ada.recovery_codes[0]}
    )
    assert done.status_code == 200
    headers = {"X-CSRF-Token": done.json()["csrf_token"]}
    fresh = await client.post(
        "/auth/factors/recovery-codes", json={"current_password": PASSWORD}, headers=headers
    )
    assert fresh.status_code == 200
    off = await client.request(
        "DELETE", "/auth/factors/totp", json={"current_password": PASSWORD}, headers=headers
    )
    assert off.status_code == 204
    kinds = [e.kind for e in heard if e.user_id == ada.user_id]
    for kind in (
        "totp_enabled",
        "mfa_failed",
        "recovery_code_used",
        "recovery_codes_generated",
        "totp_disabled",
    ):
        assert kind in kinds
        assert [r for r in caplog.records if getattr(r, "event", None) == kind]
    # Never a secret or a code in a log line.
    text = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert ada.secret not in text
    assert not any(code in text for code in ada.recovery_codes)


async def test_second_steps_are_counted_by_method_and_outcome(
    client: httpx.AsyncClient, clock: FrozenClock, runtime: Runtime
) -> None:
    ada = await enrolled(client, clock, EMAIL)
    before = {k: count(*k) for k in (("otp", "ok"), ("otp", "failed"), ("otp", "throttled"))}
    wrong = "123456" if ada.code(clock.now()) != "123456" else "654321"
    for _ in range(runtime.settings.mfa_max_failures + 1):
        await client.post(
            "/auth/mfa", json={"mfa_token": await first_step(client, EMAIL), "code": wrong}
        )
    clock.advance(runtime.settings.login_window)
    ok = await client.post(
        "/auth/mfa",
        json={"mfa_token": await first_step(client, EMAIL), "code": ada.code(clock.now())},
    )
    assert ok.status_code == 200
    assert count("otp", "ok") - before[("otp", "ok")] == 1
    assert count("otp", "failed") - before[("otp", "failed")] == runtime.settings.mfa_max_failures
    assert count("otp", "throttled") - before[("otp", "throttled")] == 1


async def test_a_password_change_leaves_the_factor_on(
    client: httpx.AsyncClient, clock: FrozenClock
) -> None:
    ada = await enrolled(client, clock, EMAIL)
    token = await first_step(client, EMAIL)
    done = await client.post("/auth/mfa", json={"mfa_token": token, "code": ada.code(clock.now())})
    changed = await client.post(
        "/auth/password",
        json={"current_password": PASSWORD, "new_password": "a brand new passphrase"},
        headers={"X-CSRF-Token": done.json()["csrf_token"]},
    )
    assert changed.status_code == 204
    client.cookies.clear()
    again = await client.post(
        "/auth/session/login", json={"email": EMAIL, "password": "a brand new passphrase"}
    )
    assert again.json()["mfa_required"] is True


async def test_an_account_disabled_between_the_steps_gets_nothing(
    client: httpx.AsyncClient, clock: FrozenClock, runtime: Runtime
) -> None:
    ada = await enrolled(client, clock, EMAIL)
    token = await first_step(client, EMAIL, "/auth/token")
    await runtime.lifecycle.disable(ada.user_id)
    refused = await client.post(
        "/auth/mfa", json={"mfa_token": token, "code": ada.code(clock.now())}
    )
    assert refused.status_code == 401 and "access_token" not in refused.text


async def test_recovery_codes_are_counted_by_outcome_too(
    client: httpx.AsyncClient, clock: FrozenClock, runtime: Runtime
) -> None:
    ada = await enrolled(client, clock, EMAIL)
    before = {k: count(*k) for k in (("rc", "ok"), ("rc", "failed"), ("rc", "throttled"))}
    for _ in range(runtime.settings.mfa_max_failures + 1):
        await client.post(
            "/auth/mfa",
            json={"mfa_token": await first_step(client, EMAIL), "recovery_code": "aaaa-bbbb-cccc"},
        )
    clock.advance(runtime.settings.login_window)
    token = await first_step(client, EMAIL)
    ok = await client.post(
        "/auth/mfa", json={"mfa_token": token, "recovery_code": ada.recovery_codes[0]}
    )
    assert ok.status_code == 200
    spent = await client.post(  # the same code again: used once only
        "/auth/mfa",
        json={"mfa_token": await first_step(client, EMAIL), "recovery_code": ada.recovery_codes[0]},
    )
    assert spent.status_code == 401
    assert count("rc", "ok") - before[("rc", "ok")] == 1
    assert count("rc", "failed") - before[("rc", "failed")] == runtime.settings.mfa_max_failures + 1
    assert count("rc", "throttled") - before[("rc", "throttled")] == 1
