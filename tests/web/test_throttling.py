"""Login throttling: per (account, address) and per account, shared by every login route."""

from __future__ import annotations

import httpx

from authward.clock import FrozenClock
from authward.runtime import Runtime
from tests.conftest import http_client
from tests.web.helpers import PASSWORD, register

WRONG = {"email": "ada@example.com", "password": "wrong password"}
RIGHT = {"email": "ada@example.com", "password": PASSWORD}


async def _fail(client: httpx.AsyncClient, times: int) -> None:
    for _ in range(times):
        assert (await client.post("/auth/session/login", json=WRONG)).status_code == 401


async def test_after_max_failures_even_the_right_password_gets_429(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await register(client, "ada@example.com")
    await _fail(client, runtime.settings.login_max_failures)
    response = await client.post("/auth/session/login", json=RIGHT)
    assert response.status_code == 429
    assert int(response.headers["retry-after"]) > 0


async def test_the_window_slides_and_the_wait_ends(
    client: httpx.AsyncClient, runtime: Runtime, clock: FrozenClock
) -> None:
    await register(client, "ada@example.com")
    await _fail(client, runtime.settings.login_max_failures)
    response = await client.post("/auth/session/login", json=RIGHT)
    clock.advance(int(response.headers["retry-after"]))
    assert (await client.post("/auth/session/login", json=RIGHT)).status_code == 200


async def test_another_address_is_not_locked_out_by_an_attacker(runtime: Runtime) -> None:
    async with (
        http_client(runtime, "198.51.100.1") as attacker,
        http_client(runtime, "192.0.2.50") as owner,
    ):
        await register(owner, "ada@example.com")
        await _fail(attacker, runtime.settings.login_max_failures)
        assert (await attacker.post("/auth/session/login", json=RIGHT)).status_code == 429
        assert (await owner.post("/auth/session/login", json=RIGHT)).status_code == 200


async def test_success_resets_the_count_for_that_address(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await register(client, "ada@example.com")
    await _fail(client, runtime.settings.login_max_failures - 1)
    assert (await client.post("/auth/session/login", json=RIGHT)).status_code == 200
    await _fail(client, runtime.settings.login_max_failures - 1)
    assert (await client.post("/auth/session/login", json=RIGHT)).status_code == 200


async def test_the_account_ceiling_applies_across_addresses(runtime: Runtime) -> None:
    ceiling = runtime.settings.account_max_failures
    per_address = runtime.settings.login_max_failures
    async with http_client(runtime, "192.0.2.50") as owner:
        await register(owner, "ada@example.com")
    for n in range(ceiling // per_address):
        async with http_client(runtime, f"198.51.100.{n + 1}") as attacker:
            await _fail(attacker, per_address)
    async with http_client(runtime, "192.0.2.50") as owner:
        assert (await owner.post("/auth/session/login", json=RIGHT)).status_code == 429


async def test_unknown_accounts_are_throttled_alike(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    ghost = {"email": "ghost@example.com", "password": "wrong password"}
    for _ in range(runtime.settings.login_max_failures):
        assert (await client.post("/auth/session/login", json=ghost)).status_code == 401
    assert (await client.post("/auth/session/login", json=ghost)).status_code == 429
