"""A node whose Redis or PostgreSQL goes away under traffic: 503, never 500, then healing.

Real `authward serve` processes against private servers (`redis_servers`,
`postgres_server`), never the shared ones: these are ours to kill. Redis runs with an
append-only file, PostgreSQL stops cleanly, so what was committed before must still be
there after.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest

from tests.scaleout.nodes import credential, me, new_account, node_env, running_nodes
from tests.servers import free_port
from tests.storage.postgres_servers import PostgresServer
from tests.storage.redis_servers import RedisServers

HEALS_WITHIN = 10.0  # seconds after the store is back (reconnects take about one)

Request = Callable[[httpx.AsyncClient], Awaitable[httpx.Response]]


async def wait_for_health(client: httpx.AsyncClient, status: int) -> float:
    """Poll /healthz until it answers `status`; return how long that took, seconds."""
    started = time.monotonic()
    while (await client.get("/healthz")).status_code != status:
        if time.monotonic() - started > HEALS_WITHIN:
            raise AssertionError(f"/healthz never answered {status}")
        await asyncio.sleep(0.05)
    return time.monotonic() - started


def every_kind_of_request(cookie: str, csrf: str, tokens: dict[str, str]) -> list[Request]:
    """A mix of what clients send: each path a store outage could break."""
    session, bearer = credential(cookie=cookie), credential(token=tokens["access_token"])
    return [
        lambda c: c.post("/auth/register", json=new_account()),
        lambda c: c.post("/auth/session/login", json=new_account()),
        lambda c: c.post("/auth/token", json=new_account()),
        lambda c: c.get("/auth/me", headers=session),
        lambda c: c.get("/auth/me", headers=bearer),
        lambda c: c.get("/auth/sessions", headers=session),
        lambda c: c.get("/auth/sessions", headers=bearer),
        lambda c: c.post("/auth/token/refresh", json={"refresh_token": secrets.token_urlsafe(32)}),
        lambda c: c.get("/account", headers=session),
        lambda c: c.get("/.well-known/jwks.json"),
        lambda c: c.get("/healthz"),
    ]


@asynccontextmanager
async def traffic(
    client: httpx.AsyncClient, requests: list[Request]
) -> AsyncIterator[Counter[int]]:
    """Send `requests` round and round until the block ends; count the statuses."""
    statuses: Counter[int] = Counter()

    async def loop() -> None:
        while True:
            for request in requests:
                statuses[(await request(client)).status_code] += 1

    task = asyncio.create_task(loop())
    try:
        yield statuses
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def log_in(client: httpx.AsyncClient) -> tuple[dict[str, str], str, str, dict[str, str]]:
    account = new_account()
    assert (await client.post("/auth/register", json=account)).status_code == 201
    login = await client.post("/auth/session/login", json=account)
    assert login.status_code == 200
    client.cookies.clear()
    tokens = await client.post("/auth/token", json=account)
    assert tokens.status_code == 200
    return account, login.cookies["authward_session"], login.json()["csrf_token"], tokens.json()


@pytest.mark.postgres
@pytest.mark.redis
async def test_redis_down_at_start_and_killed_under_traffic(
    tmp_path: Path, database_url: str, redis_servers: RedisServers
) -> None:
    port = free_port()
    env = node_env(database_url, redis_url=f"redis://127.0.0.1:{port}/0")
    with running_nodes(tmp_path, env, "a", healthy=False) as [node]:
        async with httpx.AsyncClient(base_url=node.base, timeout=10) as client:
            # Started without its Redis: up, and saying which store is missing.
            health = await client.get("/healthz")
            assert health.status_code == 503
            assert health.json()["stores"] == {
                "database": "ok",
                "redis": "down",
                "revocations": "down",
            }
            account = new_account()
            for path in ("/auth/register", "/auth/session/login", "/auth/token"):
                response = await client.post(path, json=account)
                assert response.status_code == 503, path
                assert response.headers["retry-after"]

            redis_servers.start(port, aof=True)
            await wait_for_health(client, 200)
            account, cookie, csrf, tokens = await log_in(client)

            async with traffic(client, every_kind_of_request(cookie, csrf, tokens)) as statuses:
                redis_servers.kill(port)
                await wait_for_health(client, 503)
                await asyncio.sleep(0.5)  # traffic meets the outage for a while
                redis_servers.start(port, aof=True)
                await wait_for_health(client, 200)
            assert statuses[503] > 0
            assert not [status for status in statuses if status >= 500 and status != 503]

            # Nothing committed is lost: the session, the user, the token family.
            assert await me(client, cookie=cookie) == 200
            assert await me(client, token=tokens["access_token"]) == 200
            assert (await client.post("/auth/token", json=account)).status_code == 200
            refreshed = await client.post(
                "/auth/token/refresh", json={"refresh_token": tokens["refresh_token"]}
            )
            assert refreshed.status_code == 200


async def test_postgres_stopped_under_traffic(
    tmp_path: Path, postgres_server: PostgresServer
) -> None:
    env = node_env(postgres_server.url)  # no Redis: sessions and revocations in SQL too
    with running_nodes(tmp_path, env, "a") as [node]:
        async with httpx.AsyncClient(base_url=node.base, timeout=10) as client:
            account, cookie, csrf, tokens = await log_in(client)

            async with traffic(client, every_kind_of_request(cookie, csrf, tokens)) as statuses:
                postgres_server.stop("immediate")  # a crash: recovery replays the WAL
                await wait_for_health(client, 503)
                health = (await client.get("/healthz")).json()
                assert health["stores"]["database"] == "down"
                for path in ("/auth/register", "/auth/session/login", "/auth/token"):
                    assert (await client.post(path, json=new_account())).status_code == 503
                assert await me(client, cookie=cookie) == 503
                await asyncio.sleep(0.5)
                postgres_server.start()
                await wait_for_health(client, 200)
            assert statuses[503] > 0
            assert not [status for status in statuses if status >= 500 and status != 503]

            assert await me(client, cookie=cookie) == 200
            assert await me(client, token=tokens["access_token"]) == 200
            assert (await client.post("/auth/token", json=account)).status_code == 200
            refreshed = await client.post(
                "/auth/token/refresh", json={"refresh_token": tokens["refresh_token"]}
            )
            assert refreshed.status_code == 200


async def test_a_postgres_that_stops_answering_is_a_503_not_a_hang(
    tmp_path: Path, postgres_server: PostgresServer
) -> None:
    # Frozen, the server still accepts connections and answers nothing: only the
    # client's own timeouts (AUTHWARD_DATABASE_TIMEOUT) end the wait. Without them the
    # requests below hang until this client gives up (ReadTimeout).
    env = {**node_env(postgres_server.url), "AUTHWARD_DATABASE_TIMEOUT": "1"}
    with running_nodes(tmp_path, env, "a") as [node]:
        async with httpx.AsyncClient(base_url=node.base, timeout=30) as client:
            account, cookie, _, tokens = await log_in(client)
            postgres_server.freeze()
            try:
                assert await me(client, cookie=cookie) == 503
                assert (await client.post("/auth/token", json=account)).status_code == 503
                assert await me(client, token=tokens["access_token"]) == 503  # loads the user
            finally:
                postgres_server.thaw()
            await wait_for_health(client, 200)
            assert await me(client, cookie=cookie) == 200
            assert (await client.post("/auth/token", json=account)).status_code == 200


LOAD_CONCURRENCY = 8  # requests in flight at once, over both nodes
LOAD_MAX_REQUESTS = 20_000
LOAD_MAX_SECONDS = 120.0


class Load:
    """A bounded load: `LOAD_CONCURRENCY` loops over `requests`, alternating between the
    clients, until `stop`, `LOAD_MAX_REQUESTS` in all or `LOAD_MAX_SECONDS`."""

    def __init__(self, clients: list[httpx.AsyncClient], requests: list[Request]) -> None:
        self.statuses: Counter[int] = Counter()
        self._clients, self._requests = clients, requests
        self._deadline = time.monotonic() + LOAD_MAX_SECONDS
        self._stopped = asyncio.Event()
        self._target, self._reached = 0, asyncio.Event()
        self._workers = [asyncio.create_task(self._work(n)) for n in range(LOAD_CONCURRENCY)]

    async def served(self, count: int) -> None:
        """Return once `count` more requests were answered 200 (or the load ended)."""
        self._target, self._reached = self.statuses[200] + count, asyncio.Event()
        ended = asyncio.gather(*self._workers)
        await asyncio.wait(
            [asyncio.ensure_future(self._reached.wait()), ended],
            return_when=asyncio.FIRST_COMPLETED,
        )

    async def stop(self) -> None:
        self._stopped.set()
        await asyncio.gather(*self._workers)

    async def _work(self, number: int) -> None:
        client = self._clients[number % len(self._clients)]
        for turn in range(LOAD_MAX_REQUESTS // LOAD_CONCURRENCY):
            if self._stopped.is_set() or time.monotonic() > self._deadline:
                return
            request = self._requests[(number + turn) % len(self._requests)]
            self.statuses[(await request(client)).status_code] += 1
            if self.statuses[200] >= self._target:
                self._reached.set()


@pytest.mark.postgres
async def test_postgres_killed_and_restarted_under_load_on_two_nodes(
    tmp_path: Path, postgres_server: PostgresServer
) -> None:
    """Issue 14: with the postmaster killed and started again, asyncpg's "the database
    system is starting up" (57P03) got about one request in a hundred a 500."""
    env = node_env(postgres_server.url)  # PostgreSQL alone: no Redis
    with running_nodes(tmp_path, env, "ab") as nodes:
        async with contextlib.AsyncExitStack() as stack:
            clients = [
                await stack.enter_async_context(httpx.AsyncClient(base_url=n.base, timeout=30))
                for n in nodes
            ]
            _, cookie, csrf, tokens = await log_in(clients[0])
            load = Load(clients, every_kind_of_request(cookie, csrf, tokens))
            try:
                await load.served(100)
                await asyncio.to_thread(postgres_server.kill_postmaster)
                # Started again while the load goes on: it meets a server refusing
                # connections, then one starting up and recovering from the crash.
                await asyncio.to_thread(postgres_server.start)
                for client in clients:
                    await wait_for_health(client, 200)
                await load.served(200)  # answers are 200 again, by themselves
            finally:
                await load.stop()
            assert load.statuses[503] > 0, load.statuses
            assert set(load.statuses) <= {200, 201, 401, 503}, load.statuses
            for client in clients:
                assert await me(client, cookie=cookie) == 200
                assert await me(client, token=tokens["access_token"]) == 200
