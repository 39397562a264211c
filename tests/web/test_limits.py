"""Limits before work: each oversized input is refused (413/422) before any costly step."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from typing import Any

import anyio.to_thread
import httpx
import pytest

from authward.runtime import Runtime
from authward.web.limits import MAX_HEADER_BYTES
from tests.web.helpers import PASSWORD, register, session_login

LONG_PASSWORD = "p" * 1025
LONG_EMAIL = "a" * 310 + "@example.com"


class Argon2Spy:
    """Stands in for argon2-cffi's hasher and counts every call (any call is costly work)."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.calls = 0

    def hash(self, password: str) -> str:
        self.calls += 1
        result: str = self.real.hash(password)
        return result

    def verify(self, stored: str, password: str) -> bool:
        self.calls += 1
        result: bool = self.real.verify(stored, password)
        return result

    def check_needs_rehash(self, stored: str) -> bool:
        result: bool = self.real.check_needs_rehash(stored)
        return result


@pytest.fixture
def argon2(runtime: Runtime) -> Iterator[Argon2Spy]:
    spy = Argon2Spy(runtime.hasher._argon2)
    runtime.hasher._argon2 = spy  # type: ignore[assignment]
    yield spy
    runtime.hasher._argon2 = spy.real


async def test_headers_over_the_limit_are_413_before_any_route(client: httpx.AsyncClient) -> None:
    filler = {f"x-filler-{n}": "v" * 1000 for n in range(MAX_HEADER_BYTES // 1000 + 1)}
    response = await client.get("/auth/me", headers=filler)
    assert response.status_code == 413
    assert response.json() == {"detail": "Request headers too large.", "code": "payload_too_large"}


async def test_headers_under_the_limit_pass(client: httpx.AsyncClient) -> None:
    filler = {f"x-filler-{n}": "v" * 1000 for n in range(MAX_HEADER_BYTES // 1000 - 4)}
    assert (await client.get("/healthz", headers=filler)).status_code == 200


async def test_a_bearer_token_over_8_kib_is_refused_unparsed(client: httpx.AsyncClient) -> None:
    response = await client.get("/auth/me", headers={"Authorization": "Bearer " + "a" * 8193})
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize("path", ["/auth/session/login", "/auth/token", "/auth/register"])
@pytest.mark.parametrize("field", ["email", "password"])
async def test_lone_surrogates_in_json_are_422_not_500(
    client: httpx.AsyncClient, path: str, field: str
) -> None:
    """json.loads yields a lone surrogate for "\\ud800"; UTF-8 cannot encode it (was a 500)."""
    body = {"email": "ada@example.com", "password": PASSWORD, field: "\\ud800 x@example.com"}
    raw = json.dumps(body).replace("\\\\ud800", "\\ud800").encode()
    response = await client.post(path, content=raw, headers={"Content-Type": "application/json"})
    assert response.status_code == 422


async def test_a_refresh_token_over_256_characters_is_422(client: httpx.AsyncClient) -> None:
    response = await client.post("/auth/token/refresh", json={"refresh_token": "a" * 257})
    assert response.status_code == 422


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/auth/register", {"email": "ada@example.com", "password": LONG_PASSWORD}),
        ("/auth/register", {"email": LONG_EMAIL, "password": PASSWORD}),
        ("/auth/session/login", {"email": "ada@example.com", "password": LONG_PASSWORD}),
        ("/auth/session/login", {"email": LONG_EMAIL, "password": PASSWORD}),
        ("/auth/token", {"email": "ada@example.com", "password": LONG_PASSWORD}),
        ("/auth/token", {"email": LONG_EMAIL, "password": PASSWORD}),
    ],
)
async def test_overlong_credentials_are_422_without_hashing(
    client: httpx.AsyncClient, argon2: Argon2Spy, path: str, body: dict[str, str]
) -> None:
    response = await client.post(path, json=body)
    assert response.status_code == 422, response.text
    assert argon2.calls == 0


async def test_overlong_oauth2_form_password_is_422_without_hashing(
    client: httpx.AsyncClient, argon2: Argon2Spy
) -> None:
    form = {"grant_type": "password", "username": "ada@example.com", "password": LONG_PASSWORD}
    assert (await client.post("/auth/token", data=form)).status_code == 422
    assert argon2.calls == 0


async def test_overlong_passwords_do_not_use_up_the_login_allowance(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await register(client, "ada@example.com")
    long = {"email": "ada@example.com", "password": LONG_PASSWORD}
    for _ in range(runtime.settings.login_max_failures * 2):
        assert (await client.post("/auth/token", json=long)).status_code == 422
    right = {"email": "ada@example.com", "password": PASSWORD}
    assert (await client.post("/auth/token", json=right)).status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        {"current_password": LONG_PASSWORD, "new_password": "a new passphrase"},
        {"current_password": PASSWORD, "new_password": LONG_PASSWORD},
    ],
)
async def test_overlong_password_change_is_422_without_hashing(
    client: httpx.AsyncClient, runtime: Runtime, body: dict[str, str]
) -> None:
    await register(client, "ada@example.com")
    csrf = await session_login(client, "ada@example.com")
    spy = Argon2Spy(runtime.hasher._argon2)
    runtime.hasher._argon2 = spy  # type: ignore[assignment]
    try:
        response = await client.post("/auth/password", json=body, headers={"X-CSRF-Token": csrf})
    finally:
        runtime.hasher._argon2 = spy.real
    assert response.status_code == 422
    assert spy.calls == 0


async def test_the_service_refuses_overlong_passwords_before_hashing_too(
    runtime: Runtime, argon2: Argon2Spy
) -> None:
    """The library path (no HTTP schema in front) holds the same line."""
    from authward.errors import AuthwardError

    with pytest.raises(AuthwardError):
        await runtime.accounts.authenticate("ada@example.com", LONG_PASSWORD, address="x")
    with pytest.raises(AuthwardError):
        await runtime.accounts.register("ada@example.com", LONG_PASSWORD)
    assert argon2.calls == 0


# --- argon2 cannot take the thread pool, and the token path needs none -----------------


async def test_argon2_never_borrows_from_the_default_thread_limiter(runtime: Runtime) -> None:
    """Hashes run under the hasher's own CapacityLimiter, so a login storm leaves anyio's
    default pool (40 threads: sync routes, file responses) to everyone else."""
    default = anyio.to_thread.current_default_thread_limiter()
    seen: list[tuple[float, int]] = []
    niceness: list[int] = []
    real = runtime.hasher._argon2

    class Probe:
        def hash(self, password: str) -> str:
            seen.append((default.borrowed_tokens, runtime.hasher._limiter.borrowed_tokens))
            niceness.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
            result: str = real.hash(password)
            return result

    runtime.hasher._argon2 = Probe()  # type: ignore[assignment]
    try:
        async with anyio.create_task_group() as group:
            for _ in range(8):
                group.start_soon(runtime.hasher.hash, PASSWORD)
    finally:
        runtime.hasher._argon2 = real
    assert len(seen) == 8
    assert all(borrowed == 0 for borrowed, _ in seen)
    assert max(own for _, own in seen) <= runtime.settings.argon2_max_concurrent
    # Nicer than the event loop, so a login storm leaves it its share of the CPU.
    loop_niceness = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    assert all(n > loop_niceness for n in niceness) or loop_niceness == 19


async def test_me_with_a_bearer_token_uses_no_worker_thread(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    await register(client, "ada@example.com")
    response = await client.post(
        "/auth/token", json={"email": "ada@example.com", "password": PASSWORD}
    )
    bearer = {"Authorization": f"Bearer {response.json()['access_token']}"}
    calls: list[object] = []
    real = anyio.to_thread.run_sync

    async def counting(func: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(func)
        return await real(func, *args, **kwargs)

    monkeypatch.setattr(anyio.to_thread, "run_sync", counting)
    assert (await client.get("/auth/me", headers=bearer)).status_code == 200
    assert calls == []
