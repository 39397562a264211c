"""Every throttle holds under concurrency, on every store that keeps its counts.

The contract: however many attempts arrive at once, no more are evaluated (passwords
hashed and compared, tokens looked up, accounts created) than the ceiling allows, and
attempts refused with 429 are not counted. An evaluated attempt answers with its own
status (401, 403, 201, 200); only a refused one answers 429, so the statuses tell how many
were evaluated.

Each burst is sent at once through the real ASGI app; the requests interleave at every
store round trip and every argon2 hash (which runs in a thread).
"""

from __future__ import annotations

import asyncio
import secrets
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Iterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from authward import crypto
from authward.clock import FrozenClock
from authward.runtime import Runtime, build_runtime
from authward.throttle.log import FailureLog
from authward.throttle.memory import MemoryFailureLog
from tests.conftest import http_client, make_settings
from tests.contracts.conftest import BACKENDS
from tests.scaleout.conftest import delete_keys
from tests.web.helpers import PASSWORD, register

MAX_FAILURES = 5  # AUTHWARD_LOGIN_MAX_FAILURES: per (account, address)
ADDRESS_MAX_FAILURES = 12  # per address, across accounts
REGISTER_LIMIT = 8
REFRESH_LIMIT = 6
ATTACKER = "198.51.100.66"
OWNER = "192.0.2.10"

# Settings that put the counts in a store, and the FailureLog to use instead of theirs.
StoreUnderTest = tuple[dict[str, object], FailureLog | None]


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest) -> Iterator[StoreUnderTest]:
    """Settings that put the throttle counts in the store under test.

    A plain function: an async fixture cannot set up another one (the PostgreSQL engine)
    through getfixturevalue.
    """
    if request.param == "memory":
        yield {}, MemoryFailureLog()
    elif request.param == "sqlite":
        yield {}, None
    elif request.param == "postgres":
        engine: AsyncEngine = request.getfixturevalue("postgres_engine")
        yield {"database_url": engine.url.render_as_string(hide_password=False)}, None
    elif request.param == "redis":
        url, prefix = request.getfixturevalue("redis_url"), f"authward-test-{secrets.token_hex(6)}:"
        yield {"redis_url": url, "redis_prefix": prefix}, None
        delete_keys(url, prefix)
    else:  # a private cluster, gone after the run
        url = request.getfixturevalue("redis_cluster_url")
        yield {"redis_url": url, "redis_prefix": f"authward-test-{secrets.token_hex(6)}:"}, None


@pytest.fixture
async def runtime(
    store: StoreUnderTest, tmp_path: object, clock: FrozenClock
) -> AsyncIterator[Runtime]:
    """A runtime whose throttle counts live in the store under test; low ceilings."""
    settings = make_settings(
        tmp_path,
        login_max_failures=MAX_FAILURES,
        register_max_attempts=REGISTER_LIMIT,
        login_address_max_failures=ADDRESS_MAX_FAILURES,
        refresh_max_failures=REFRESH_LIMIT,
        **store[0],
    )
    built = build_runtime(settings, clock=clock, failure_log=store[1])
    await built.open(background=False)
    yield built
    await built.close()


async def statuses(requests: list[Awaitable[httpx.Response]]) -> Counter[int]:
    """Send `requests` at once; count the answers by status."""
    answers = await asyncio.gather(*requests)
    return Counter(answer.status_code for answer in answers)


def evaluated(counts: Counter[int]) -> int:
    return sum(n for status, n in counts.items() if status != 429)


def login(
    client: httpx.AsyncClient, email: str, password: str, n: int
) -> Awaitable[httpx.Response]:
    """Alternate the two API ways in: they share one count."""
    path = "/auth/session/login" if n % 2 else "/auth/token"
    return client.post(path, json={"email": email, "password": password})


async def test_a_burst_of_wrong_logins_is_judged_no_more_than_the_ceiling(
    runtime: Runtime,
) -> None:
    async with http_client(runtime, ATTACKER) as attacker:
        await register(attacker, "ada@example.com")
        burst = [login(attacker, "ada@example.com", f"guess-{n:04}-x", n) for n in range(30)]
        burst.append(login(attacker, "ada@example.com", PASSWORD, 1))  # the right one, late
        counts = await statuses(burst)
    assert evaluated(counts) <= MAX_FAILURES, counts
    assert counts[429] >= 31 - MAX_FAILURES, counts


async def test_a_burst_from_one_address_never_locks_the_owner_out_elsewhere(
    runtime: Runtime,
) -> None:
    account_ceiling = runtime.settings.account_max_failures  # 50: ten times the pair's
    async with (
        http_client(runtime, ATTACKER) as attacker,
        http_client(runtime, OWNER) as owner,
    ):
        await register(owner, "ada@example.com")
        burst = [
            login(attacker, "ada@example.com", f"guess-{n:04}-x", n)
            for n in range(account_ceiling + 10)
        ]
        counts = await statuses(burst)
        assert evaluated(counts) <= MAX_FAILURES, counts
        answer = await owner.post(
            "/auth/session/login", json={"email": "ada@example.com", "password": PASSWORD}
        )
    assert answer.status_code == 200, answer.text


async def test_password_spraying_from_one_address_stops_at_the_address_ceiling(
    runtime: Runtime,
) -> None:
    async with (
        http_client(runtime, ATTACKER) as attacker,
        http_client(runtime, OWNER) as owner,
    ):
        await register(owner, "ada@example.com")
        spray = [login(attacker, f"user{n}@example.com", PASSWORD, n) for n in range(40)]
        counts = await statuses(spray)
        assert evaluated(counts) <= ADDRESS_MAX_FAILURES, counts
        assert counts[429] >= 40 - ADDRESS_MAX_FAILURES, counts
        # The ceiling is the address's: every account stays open to everyone else.
        answer = await owner.post(
            "/auth/token", json={"email": "ada@example.com", "password": PASSWORD}
        )
    assert answer.status_code == 200, answer.text


async def test_a_burst_of_registrations_creates_no_more_than_the_ceiling(
    runtime: Runtime,
) -> None:
    async with http_client(runtime, ATTACKER) as attacker:
        burst = [
            attacker.post(
                "/auth/register", json={"email": f"new{n}@example.com", "password": PASSWORD}
            )
            for n in range(3 * REGISTER_LIMIT)
        ]
        counts = await statuses(burst)
    assert counts[201] <= REGISTER_LIMIT, counts
    assert evaluated(counts) <= REGISTER_LIMIT, counts


async def test_a_burst_of_refresh_guesses_is_looked_up_no_more_than_the_ceiling(
    runtime: Runtime,
) -> None:
    async with http_client(runtime, ATTACKER) as attacker:
        burst = [
            attacker.post("/auth/token/refresh", json={"refresh_token": crypto.new_token()})
            for _ in range(4 * REFRESH_LIMIT)
        ]
        counts = await statuses(burst)
    assert evaluated(counts) <= REFRESH_LIMIT, counts
    assert counts[429] >= 3 * REFRESH_LIMIT, counts


async def test_a_burst_of_wrong_current_passwords_is_judged_no_more_than_the_ceiling(
    runtime: Runtime,
) -> None:
    async with http_client(runtime, ATTACKER) as client:
        await register(client, "ada@example.com")
        tokens = (
            await client.post(
                "/auth/token", json={"email": "ada@example.com", "password": PASSWORD}
            )
        ).json()
        bearer = {"authorization": f"Bearer {tokens['access_token']}"}
        burst = [
            client.post(
                "/auth/password",
                json={"current_password": f"guess-{n:04}-x", "new_password": "a new password"},
                headers=bearer,
            )
            for n in range(20)
        ]
        counts = await statuses(burst)
    assert evaluated(counts) <= MAX_FAILURES, counts
    assert counts[403] >= 1, counts


async def test_a_success_gives_its_slot_back(runtime: Runtime) -> None:
    """Right passwords are not failures: any number of them, one after another, pass."""
    async with http_client(runtime, OWNER) as owner:
        await register(owner, "ada@example.com")
        for n in range(MAX_FAILURES + 2):
            answer = await login(owner, "ada@example.com", PASSWORD, n)
            assert answer.status_code == 200, answer.text


async def test_a_burst_of_passkey_options_keeps_no_more_challenges_than_the_ceiling(
    runtime: Runtime,
) -> None:
    """Options need no account and each keeps a challenge: one address gets the address
    ceiling of them (sign-ins' and registrations' together), then 429, and the store
    holds no more than that."""
    later = runtime.clock.now() + timedelta(days=1)
    await runtime.passkeys.store.sweep(later)  # earlier tests' challenges (a shared database)
    async with http_client(runtime, ATTACKER) as attacker:
        await register(attacker, "ada@example.com")
        tokens = (
            await attacker.post(
                "/auth/token", json={"email": "ada@example.com", "password": PASSWORD}
            )
        ).json()
        bearer = {"authorization": f"Bearer {tokens['access_token']}"}
        burst = [attacker.post("/auth/passkey/options", json={}) for _ in range(30)]
        burst += [
            attacker.post("/auth/factors/passkeys/options", json={}, headers=bearer)
            for _ in range(10)
        ]
        answers = await asyncio.gather(*burst)
    counts = Counter(answer.status_code for answer in answers)
    assert counts == {200: ADDRESS_MAX_FAILURES, 429: 40 - ADDRESS_MAX_FAILURES}, counts
    refused = [answer for answer in answers if answer.status_code == 429]
    assert all(int(answer.headers["retry-after"]) >= 1 for answer in refused)
    assert {answer.json()["code"] for answer in refused} == {"too_many_attempts"}
    assert await runtime.passkeys.store.sweep(later) == ADDRESS_MAX_FAILURES
    async with http_client(runtime, OWNER) as owner:  # a count per address
        assert (await owner.post("/auth/passkey/options", json={})).status_code == 200
