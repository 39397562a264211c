"""Events: emitted where each fact becomes true, heard by hooks, never breaking auth."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import replace

import httpx
import pytest

from authward import AuthEvent, Authward, Events
from authward.accounts.service import AccountService
from authward.clock import FrozenClock
from authward.errors import InvalidCredentials
from authward.ids import Device
from authward.runtime import Runtime, build_tokens
from authward.sessions.service import SessionService
from tests.conftest import http_client
from tests.web.helpers import PASSWORD, register, session_login


@pytest.fixture
async def heard(runtime: Runtime) -> AsyncIterator[list[AuthEvent]]:
    events: list[AuthEvent] = []

    async def hook(event: AuthEvent) -> None:
        events.append(event)

    runtime.events.subscribe(hook)
    yield events
    runtime.events.unsubscribe(hook)


async def _tokens(client: httpx.AsyncClient) -> dict[str, str]:
    response = await client.post(
        "/auth/token",
        json={"email": "ada@example.com", "password": PASSWORD},
        headers={"User-Agent": "cli/1"},
    )
    assert response.status_code == 200, response.text
    tokens: dict[str, str] = response.json()
    return tokens


def _kinds(events: list[AuthEvent]) -> list[str]:
    return [e.kind for e in events]


async def test_account_and_session_events(
    client: httpx.AsyncClient, heard: list[AuthEvent]
) -> None:
    user_id = await register(client, "ada@example.com")
    bad = {"email": "ada@example.com", "password": "not the password"}
    assert (await client.post("/auth/session/login", json=bad)).status_code == 401
    csrf = await session_login(client, "ada@example.com")
    changed = await client.post(
        "/auth/password",
        json={"current_password": PASSWORD, "new_password": PASSWORD + "!"},
        headers={"X-CSRF-Token": csrf},
    )
    assert changed.status_code == 204
    logout = await client.post("/auth/session/logout", headers={"X-CSRF-Token": csrf})
    assert logout.status_code == 204
    assert _kinds(heard) == [
        "register",
        "login_failed",
        "login",
        "password_change",
        "revoke",  # every other session and family of the user
        "logout",
    ]
    assert {e.user_id for e in heard} == {user_id}
    login = heard[2]
    assert login.via == "session" and login.handle and login.ip == "203.0.113.7"
    assert login.user_agent.startswith("python-httpx")
    assert heard[-1].handle == login.handle  # the logout names the session it ended


async def test_token_events(client: httpx.AsyncClient, heard: list[AuthEvent]) -> None:
    user_id = await register(client, "ada@example.com")
    first = await _tokens(client)
    assert heard[-1].kind == "login" and heard[-1].via == "jwt"
    assert heard[-1].user_agent == "cli/1"
    family = heard[-1].handle
    refresh = {"refresh_token": first["refresh_token"]}
    assert (await client.post("/auth/token/refresh", json=refresh)).status_code == 200
    # The spent token again, from elsewhere: theft; the family is revoked.
    reused = await client.post(
        "/auth/token/refresh", json=refresh, headers={"User-Agent": "thief/1"}
    )
    assert reused.status_code == 401
    assert heard[-1].kind == "refresh_reuse"
    assert (heard[-1].user_id, heard[-1].handle, heard[-1].user_agent) == (
        user_id,
        family,
        "thief/1",
    )
    second = await _tokens(client)
    bearer = {"Authorization": f"Bearer {second['access_token']}"}
    assert (await client.post("/auth/token/revoke", headers=bearer)).status_code == 204
    assert heard[-1].kind == "revoke" and heard[-1].via == "jwt"


async def test_revoking_one_session_by_handle(
    client: httpx.AsyncClient, heard: list[AuthEvent]
) -> None:
    await register(client, "ada@example.com")
    tokens = await _tokens(client)
    family = heard[-1].handle
    csrf = await session_login(client, "ada@example.com")
    ended = await client.delete(f"/auth/sessions/{family}", headers={"X-CSRF-Token": csrf})
    assert ended.status_code == 204
    assert (heard[-1].kind, heard[-1].via, heard[-1].handle) == ("revoke", "jwt", family)
    assert tokens  # the family's tokens stopped working (tested elsewhere)


async def test_key_rotation_event(runtime: Runtime, heard: list[AuthEvent]) -> None:
    info = await runtime.tokens.rotate_keys()
    assert heard[-1].kind == "key_rotated" and heard[-1].handle == info.kid
    assert heard[-1].user_id is None and heard[-1].ip == ""


async def test_a_failing_hook_is_logged_and_auth_goes_on(
    runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    auth = Authward.from_runtime(runtime)
    calls: list[str] = []

    @auth.on("register")
    def broken(event: AuthEvent) -> None:
        calls.append("sync")
        raise RuntimeError("hook bug")

    @auth.on("register")
    async def fine(event: AuthEvent) -> None:
        calls.append("async")

    with caplog.at_level(logging.ERROR, logger="authward.events"):
        async with http_client(runtime) as client:
            await register(client, "ada@example.com")
    assert calls == ["sync", "async"]
    assert "hook bug" in caplog.text and "register" in caplog.text


async def test_hooks_hear_only_their_kinds_and_unknown_kinds_fail_early() -> None:
    events = Events()
    heard: list[str] = []
    events.subscribe(lambda e: heard.append(e.kind), ["logout"])
    await events.emit("login", user_id="u")
    await events.emit("logout", user_id="u")
    assert heard == ["logout"]
    with pytest.raises(ValueError, match="logon"):
        events.on("logon")  # type: ignore[arg-type]


async def test_one_hook_hears_every_service_of_a_runtime_built_by_hand(
    runtime: Runtime, clock: FrozenClock
) -> None:
    """Services built without an Events of their own, one runtime: one hook hears them all."""
    accounts = AccountService(runtime.accounts.users, runtime.hasher, runtime.throttle, clock)
    sessions = SessionService(
        runtime.sessions.store, runtime.sessions.policy, clock, csrf_key=b"k" * 32
    )
    tokens = build_tokens(runtime.settings, runtime.master, runtime.engine, clock)
    await tokens.open(background=False)
    mine = replace(runtime, accounts=accounts, sessions=sessions, tokens=tokens)
    heard: list[tuple[str, str | None]] = []
    mine.events.subscribe(lambda event: heard.append((event.kind, event.via)))
    try:
        user = await mine.accounts.register("ada@example.com", PASSWORD)
        with pytest.raises(InvalidCredentials):
            await mine.accounts.authenticate("ada@example.com", "not it", address="203.0.113.7")
        await mine.sessions.start(user.id, Device("cli/1", "203.0.113.7"))
        await mine.tokens.issue(user.id, Device("cli/1", "203.0.113.7"))
        await mine.sign_out_everywhere(user.id)
    finally:
        await tokens.close()
    assert heard == [
        ("register", None),
        ("login_failed", None),
        ("login", "session"),
        ("login", "jwt"),
        ("revoke", None),
    ]
