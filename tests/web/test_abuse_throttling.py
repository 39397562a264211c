"""Throttling beyond login: refresh, registration and password change (docs/throttling.md)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from authward import crypto
from authward.clock import FrozenClock
from authward.runtime import Runtime, build_runtime
from tests.conftest import http_client, make_settings
from tests.web.helpers import PASSWORD, register, session_login

REFRESH_LIMIT = 4
REGISTER_LIMIT = 3


@pytest.fixture
async def runtime(tmp_path: object, clock: FrozenClock) -> AsyncIterator[Runtime]:
    """Low ceilings, so each test reaches them in a few requests."""
    settings = make_settings(
        tmp_path, refresh_max_failures=REFRESH_LIMIT, register_max_attempts=REGISTER_LIMIT
    )
    built = build_runtime(settings, clock=clock)
    await built.open(background=False)
    yield built
    await built.close()


async def _tokens(client: httpx.AsyncClient, email: str) -> dict[str, str]:
    response = await client.post("/auth/token", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    tokens: dict[str, str] = response.json()
    return tokens


async def _refresh(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.post("/auth/token/refresh", json={"refresh_token": token})


# --- refresh ---------------------------------------------------------------------------


async def test_a_refresh_token_guesser_is_stopped_by_address(runtime: Runtime) -> None:
    async with (
        http_client(runtime, "198.51.100.9") as guesser,
        http_client(runtime, "192.0.2.50") as owner,
    ):
        await register(owner, "ada@example.com")
        mine = await _tokens(guesser, "ada@example.com")
        for _ in range(REFRESH_LIMIT):  # each guess is a new, well-formed token
            assert (await _refresh(guesser, crypto.new_token())).status_code == 401
        refused = await _refresh(guesser, mine["refresh_token"])  # even a good one now
        assert refused.status_code == 429
        assert int(refused.headers["retry-after"]) > 0
        theirs = await _tokens(owner, "ada@example.com")
        assert (await _refresh(owner, theirs["refresh_token"])).status_code == 200


async def test_the_window_slides_for_refresh(runtime: Runtime, clock: FrozenClock) -> None:
    async with http_client(runtime) as client:
        await register(client, "ada@example.com")
        tokens = await _tokens(client, "ada@example.com")
        for _ in range(REFRESH_LIMIT):
            await _refresh(client, crypto.new_token())
        refused = await _refresh(client, tokens["refresh_token"])
        clock.advance(int(refused.headers["retry-after"]))
        assert (await _refresh(client, tokens["refresh_token"])).status_code == 200


async def test_one_dead_token_presented_again_and_again_is_refused_anywhere(
    runtime: Runtime,
) -> None:
    dead = crypto.new_token()
    for n in range(runtime.settings.login_max_failures):
        async with http_client(runtime, f"198.51.100.{n + 1}") as client:
            assert (await _refresh(client, dead)).status_code == 401
    async with http_client(runtime, "192.0.2.99") as fresh_address:
        assert (await _refresh(fresh_address, dead)).status_code == 429


async def test_a_success_does_not_buy_an_address_more_guesses(runtime: Runtime) -> None:
    async with http_client(runtime) as client:
        await register(client, "ada@example.com")
        tokens = await _tokens(client, "ada@example.com")
        for _ in range(REFRESH_LIMIT - 1):
            await _refresh(client, crypto.new_token())
        fresh = await _refresh(client, tokens["refresh_token"])
        assert fresh.status_code == 200
        assert (await _refresh(client, crypto.new_token())).status_code == 401
        assert (await _refresh(client, fresh.json()["refresh_token"])).status_code == 429


@pytest.mark.parametrize("garbage", ["", "x", "not a token at all", "A" * 42, "A" * 44, "é" * 43])
async def test_malformed_refresh_tokens_cost_no_io_and_count_nowhere(
    runtime: Runtime, garbage: str
) -> None:
    async with http_client(runtime) as client:
        for _ in range(REFRESH_LIMIT * 3):
            assert (await _refresh(client, garbage)).status_code == 401
        await register(client, "ada@example.com")
        tokens = await _tokens(client, "ada@example.com")
        assert (await _refresh(client, tokens["refresh_token"])).status_code == 200


async def test_reuse_still_revokes_and_counts_as_a_failure(runtime: Runtime) -> None:
    async with http_client(runtime) as client, http_client(runtime, "198.51.100.1") as thief:
        await register(client, "ada@example.com")
        tokens = await _tokens(client, "ada@example.com")
        assert (await _refresh(client, tokens["refresh_token"])).status_code == 200
        assert (await _refresh(thief, tokens["refresh_token"])).status_code == 401
        for _ in range(REFRESH_LIMIT - 1):
            await _refresh(thief, crypto.new_token())
        assert (await _refresh(thief, crypto.new_token())).status_code == 429


# --- registration ----------------------------------------------------------------------


async def test_registrations_per_address_are_capped(runtime: Runtime, clock: FrozenClock) -> None:
    async with http_client(runtime) as client, http_client(runtime, "192.0.2.50") as other:
        for n in range(REGISTER_LIMIT):
            await register(client, f"user{n}@example.com")
        refused = await client.post(
            "/auth/register", json={"email": "late@example.com", "password": PASSWORD}
        )
        assert refused.status_code == 429
        assert int(refused.headers["retry-after"]) > 0
        await register(other, "late@example.com")  # another address is not affected
        clock.advance(int(refused.headers["retry-after"]))
        await register(client, "later@example.com")


async def test_the_429_says_nothing_about_which_emails_exist(runtime: Runtime) -> None:
    """Taken and new emails count alike: both addresses are refused at the same attempt."""
    async with (
        http_client(runtime, "192.0.2.1") as setup,
        http_client(runtime, "198.51.100.1") as prober,
        http_client(runtime, "198.51.100.2") as newcomer,
    ):
        for n in range(REGISTER_LIMIT):
            await register(setup, f"taken{n}@example.com")
        probes, fresh = [], []
        for n in range(REGISTER_LIMIT + 1):
            body = {"email": f"taken{n % REGISTER_LIMIT}@example.com", "password": PASSWORD}
            probes.append((await prober.post("/auth/register", json=body)).status_code)
            body = {"email": f"new{n}@example.com", "password": PASSWORD}
            fresh.append((await newcomer.post("/auth/register", json=body)).status_code)
        assert probes == [409] * REGISTER_LIMIT + [429]
        assert fresh == [201] * REGISTER_LIMIT + [429]


async def test_malformed_registrations_do_not_use_up_the_allowance(runtime: Runtime) -> None:
    async with http_client(runtime) as client:
        for _ in range(REGISTER_LIMIT * 2):
            bad = {"email": "ada@example.com", "password": "short"}
            assert (await client.post("/auth/register", json=bad)).status_code == 422
        await register(client, "ada@example.com")


async def test_the_cli_is_not_throttled(runtime: Runtime) -> None:
    for n in range(REGISTER_LIMIT + 2):
        await runtime.accounts.register(f"admin{n}@example.com", PASSWORD)


# --- password change -------------------------------------------------------------------


async def _change(
    client: httpx.AsyncClient, csrf: str, current: str, new: str = "a brand new passphrase"
) -> httpx.Response:
    body = {"current_password": current, "new_password": new}
    return await client.post("/auth/password", json=body, headers={"X-CSRF-Token": csrf})


async def test_wrong_current_passwords_are_throttled_even_the_right_one_then(
    runtime: Runtime, clock: FrozenClock
) -> None:
    async with http_client(runtime) as client:
        await register(client, "ada@example.com")
        csrf = await session_login(client, "ada@example.com")
        for _ in range(runtime.settings.login_max_failures):
            assert (await _change(client, csrf, "wrong password")).status_code == 403
        refused = await _change(client, csrf, PASSWORD)
        assert refused.status_code == 429
        assert int(refused.headers["retry-after"]) > 0
        clock.advance(int(refused.headers["retry-after"]))
        assert (await _change(client, csrf, PASSWORD)).status_code == 204


async def test_password_guesses_and_login_guesses_share_one_budget(runtime: Runtime) -> None:
    async with http_client(runtime) as client:
        await register(client, "ada@example.com")
        csrf = await session_login(client, "ada@example.com")
        wrong = {"email": "ada@example.com", "password": "wrong password"}
        for _ in range(runtime.settings.login_max_failures - 1):
            assert (await client.post("/auth/token", json=wrong)).status_code == 401
        assert (await _change(client, csrf, "wrong password")).status_code == 403
        right = {"email": "ada@example.com", "password": PASSWORD}
        assert (await client.post("/auth/token", json=right)).status_code == 429


async def test_a_right_current_password_resets_the_count(runtime: Runtime) -> None:
    async with http_client(runtime) as client:
        await register(client, "ada@example.com")
        csrf = await session_login(client, "ada@example.com")
        for _ in range(runtime.settings.login_max_failures - 1):
            await _change(client, csrf, "wrong password")
        assert (await _change(client, csrf, PASSWORD, "second passphrase")).status_code == 204
        for _ in range(runtime.settings.login_max_failures - 1):
            await _change(client, csrf, "wrong password")
        assert (await _change(client, csrf, "second passphrase")).status_code == 204


# --- the pages say the same ------------------------------------------------------------


async def test_pages_register_and_password_answer_429_with_retry_after(runtime: Runtime) -> None:
    async with http_client(runtime) as client:
        for n in range(REGISTER_LIMIT):
            await register(client, f"user{n}@example.com")
        page = await client.get("/register")
        csrf = page.text.split('name="csrf_token" value="')[1].split('"')[0]
        form = {"email": "x@example.com", "password": PASSWORD, "csrf_token": csrf, "next": ""}
        refused = await client.post(
            "/register", data=form, headers={"Origin": "https://testserver"}
        )
        assert refused.status_code == 429
        assert int(refused.headers["retry-after"]) > 0
        assert "Too many sign-ups" in refused.text


async def test_the_account_page_answers_429_to_password_guessing(runtime: Runtime) -> None:
    async with http_client(runtime) as client:
        await register(client, "ada@example.com")
        await session_login(client, "ada@example.com")
        page = await client.get("/account")
        csrf = page.text.split('name="csrf_token" value="')[1].split('"')[0]
        origin = {"Origin": "https://testserver"}
        form = {"csrf_token": csrf, "current_password": "wrong password", "new_password": "x" * 12}
        for _ in range(runtime.settings.login_max_failures):
            response = await client.post("/account/password", data=form, headers=origin)
            assert response.status_code == 400
        form["current_password"] = PASSWORD
        refused = await client.post("/account/password", data=form, headers=origin)
        assert refused.status_code == 429
        assert int(refused.headers["retry-after"]) > 0
        assert "Too many wrong passwords" in refused.text
