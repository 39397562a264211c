"""Accounts over HTTP: register, password change, disable, and equal answers on failure."""

from __future__ import annotations

import httpx
import pytest

from authward.runtime import Runtime
from tests.conftest import http_client
from tests.web.helpers import PASSWORD, register, session_login


async def test_register_normalises_the_email(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/auth/register", json={"email": "  Ａda@Example.COM ", "password": PASSWORD}
    )
    assert response.status_code == 201
    assert response.json()["email"] == "ada@example.com"
    assert set(response.json()) == {"id", "email"}


async def test_email_taken_in_any_case_or_width_is_409(client: httpx.AsyncClient) -> None:
    await register(client, "ada@example.com")
    for variant in ("ada@example.com", "ADA@EXAMPLE.COM", "ａｄａ@example.com"):
        response = await client.post(
            "/auth/register", json={"email": variant, "password": PASSWORD}
        )
        assert response.status_code == 409, variant


@pytest.mark.parametrize(
    "body",
    [
        {"email": "not-an-email", "password": PASSWORD},
        {"email": "a@b", "password": PASSWORD},
        {"email": "ada@example.com", "password": "short"},
        {"email": "ada@example.com", "password": "x" * 1025},
        {"email": "ada@example.com"},
        {"email": 5, "password": PASSWORD},
        {"email": "ada@example.com", "password": ["a list"]},
    ],
)
async def test_register_refuses_malformed_input_with_422(
    client: httpx.AsyncClient, body: dict[str, object]
) -> None:
    response = await client.post("/auth/register", json=body)
    assert response.status_code == 422


async def test_login_accepts_the_email_in_any_case(client: httpx.AsyncClient) -> None:
    await register(client, "ada@example.com")
    await session_login(client, "ADA@Example.com")
    assert (await client.get("/auth/me")).status_code == 200


async def test_unknown_user_and_wrong_password_get_the_same_answer(
    client: httpx.AsyncClient,
) -> None:
    await register(client, "ada@example.com")
    wrong = await client.post(
        "/auth/session/login", json={"email": "ada@example.com", "password": "wrong password"}
    )
    unknown = await client.post(
        "/auth/session/login", json={"email": "nobody@example.com", "password": "wrong password"}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert "set-cookie" not in wrong.headers and "set-cookie" not in unknown.headers


async def test_every_failure_branch_pays_for_one_argon2_run(
    client: httpx.AsyncClient, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Timing equality, checked structurally: each branch runs the hash exactly once."""
    await register(client, "ada@example.com")
    await register(client, "off@example.com")
    await runtime.disable_user((await runtime.accounts.find("off@example.com")).id)  # type: ignore[union-attr]
    calls: list[str] = []
    argon2_class = type(runtime.hasher._argon2)
    original = argon2_class.verify

    def counting(self: object, stored: str, password: str) -> bool:
        calls.append(stored)
        return original(self, stored, password)  # type: ignore[arg-type]

    monkeypatch.setattr(argon2_class, "verify", counting)
    for email in ("nobody@example.com", "off@example.com", "ada@example.com", "not an email"):
        calls.clear()
        response = await client.post(
            "/auth/session/login", json={"email": email, "password": "wrong password"}
        )
        assert response.status_code == 401
        assert len(calls) == 1, email


async def test_disabled_user_cannot_log_in_even_with_the_right_password(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    user_id = await register(client, "ada@example.com")
    await runtime.disable_user(user_id)
    response = await client.post(
        "/auth/session/login", json={"email": "ada@example.com", "password": PASSWORD}
    )
    assert response.status_code == 401


async def test_disabling_a_user_ends_their_sessions_at_once(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    user_id = await register(client, "ada@example.com")
    await session_login(client, "ada@example.com")
    await runtime.disable_user(user_id)
    assert (await client.get("/auth/me")).status_code == 401


async def test_password_change_keeps_this_session_and_ends_the_others(runtime: Runtime) -> None:
    async with http_client(runtime) as laptop, http_client(runtime) as phone:
        await register(laptop, "ada@example.com")
        csrf = await session_login(laptop, "ada@example.com")
        await session_login(phone, "ada@example.com")
        response = await laptop.post(
            "/auth/password",
            json={"current_password": PASSWORD, "new_password": "a brand new password"},
            headers={"X-CSRF-Token": csrf},
        )
        assert response.status_code == 204
        assert (await laptop.get("/auth/me")).status_code == 200
        assert (await phone.get("/auth/me")).status_code == 401
        old = await phone.post(
            "/auth/session/login", json={"email": "ada@example.com", "password": PASSWORD}
        )
        assert old.status_code == 401
        await session_login(phone, "ada@example.com", "a brand new password")


async def test_password_change_with_a_wrong_current_password_is_403(
    client: httpx.AsyncClient,
) -> None:
    await register(client, "ada@example.com")
    csrf = await session_login(client, "ada@example.com")
    response = await client.post(
        "/auth/password",
        json={"current_password": "not my password", "new_password": "a brand new password"},
        headers={"X-CSRF-Token": csrf},
    )
    assert response.status_code == 403


async def test_password_change_needs_csrf_with_a_cookie(client: httpx.AsyncClient) -> None:
    await register(client, "ada@example.com")
    await session_login(client, "ada@example.com")
    response = await client.post(
        "/auth/password",
        json={"current_password": PASSWORD, "new_password": "a brand new password"},
    )
    assert response.status_code == 403


async def test_rehash_on_login_when_parameters_change(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    from authward.passwords import PasswordHasher

    user_id = await register(client, "ada@example.com")
    before = (await runtime.accounts.users.get(user_id)).password_hash  # type: ignore[union-attr]
    stronger = PasswordHasher(time_cost=2, memory_cost=16, parallelism=1)
    runtime.accounts._hasher = stronger
    await session_login(client, "ada@example.com")
    after = (await runtime.accounts.users.get(user_id)).password_hash  # type: ignore[union-attr]
    assert before != after
    assert "t=2" in after and not stronger.needs_rehash(after)
