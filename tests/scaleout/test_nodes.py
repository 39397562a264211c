"""Three `authward serve` nodes on one PostgreSQL and one Redis, as behind a load balancer.

Each node is a real process on its own loopback port, with a session cache. What one
node does, the others must honour: sessions, logouts, revocations (within the stated
bound, measured here), refresh rotation and its reuse detection, and a node that dies
takes nothing committed with it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.scaleout.nodes import (
    Node,
    credential,
    me,
    new_account,
    node_env,
    running_nodes,
)

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

POLL = 0.1  # AUTHWARD_REVOCATION_POLL_INTERVAL of these nodes
CACHE_TTL = 5.0  # AUTHWARD_SESSION_CACHE_TTL: the hard bound for a logout to reach a node
# What the tests allow for propagation, on top of the stated bound (2 polls with Redis):
# the HTTP round trips of the polling test client on a busy two-core machine.
SLACK = 1.5


@pytest.fixture(scope="module")
def deployment(
    tmp_path_factory: pytest.TempPathFactory, database_url: str, redis_url: str, redis_prefix: str
) -> Iterator[tuple[Path, dict[str, str]]]:
    env = node_env(
        database_url,
        redis_url=redis_url,
        redis_prefix=redis_prefix,
        revocation_poll_interval=str(POLL),
        session_cache_ttl=str(CACHE_TTL),
    )
    yield tmp_path_factory.mktemp("deployment"), env


@pytest.fixture(scope="module")
def nodes(deployment: tuple[Path, dict[str, str]]) -> Iterator[list[Node]]:
    """Nodes a, b and c serve the tests; d is there to be killed (started with the rest,
    which is quicker than on its own). All at once on a fresh database: they must not
    race on the schema either."""
    workdir, env = deployment
    with running_nodes(workdir, env, "abcd") as started:
        yield started


@pytest.fixture
async def clients(nodes: list[Node]) -> AsyncIterator[list[httpx.AsyncClient]]:
    made = [httpx.AsyncClient(base_url=node.base, timeout=10) for node in nodes[:3]]
    yield made
    for client in made:
        await client.aclose()


async def session_login(client: httpx.AsyncClient, account: dict[str, str]) -> tuple[str, str]:
    """Register and log in by session on `client`'s node; return (cookie, csrf token)."""
    assert (await client.post("/auth/register", json=account)).status_code == 201
    login = await client.post("/auth/session/login", json=account)
    assert login.status_code == 200
    cookie = login.cookies["authward_session"]
    client.cookies.clear()
    return cookie, login.json()["csrf_token"]


async def token_login(
    client: httpx.AsyncClient, account: dict[str, str], *, register: bool = True
) -> dict[str, str]:
    if register:
        assert (await client.post("/auth/register", json=account)).status_code == 201
    response = await client.post("/auth/token", json=account)
    assert response.status_code == 200
    tokens: dict[str, str] = response.json()
    return tokens


async def refused_after(clients: list[httpx.AsyncClient], ask: Callable[..., object]) -> float:
    """Poll every client until each answers 401; return when the last one did, seconds."""
    started = time.monotonic()
    pending = set(range(len(clients)))
    while pending:
        for index in list(pending):
            status = await ask(clients[index])  # type: ignore[misc]
            assert status in (200, 401), status
            if status == 401:
                pending.discard(index)
        if time.monotonic() - started > 2 * CACHE_TTL:
            raise AssertionError("never refused")
    return time.monotonic() - started


async def test_every_node_is_healthy_and_states_its_bounds(
    clients: list[httpx.AsyncClient],
) -> None:
    for client in clients:
        health = (await client.get("/healthz")).json()
        assert health["status"] == "ok"
        assert health["stores"] == {"database": "ok", "redis": "ok", "revocations": "ok"}
        assert health["revocation_staleness_seconds"] == 2 * POLL
        assert health["session_staleness_seconds"] == CACHE_TTL


async def test_a_session_made_on_one_node_works_on_the_others(
    clients: list[httpx.AsyncClient],
) -> None:
    a, b, c = clients
    cookie, _ = await session_login(a, new_account())
    assert [await me(node, cookie=cookie) for node in (a, b, c)] == [200, 200, 200]


async def test_logout_on_one_node_is_refused_on_the_others_within_the_bound(
    clients: list[httpx.AsyncClient], record_property: Callable[[str, object], None]
) -> None:
    a, b, c = clients
    cookie, csrf = await session_login(a, new_account())
    for node in (a, b, c):
        assert await me(node, cookie=cookie) == 200  # now in every node's cache
    logout = await b.post(
        "/auth/session/logout", headers={"X-CSRF-Token": csrf, **credential(cookie=cookie)}
    )
    assert logout.status_code == 204
    took = await refused_after([a, c], lambda node: me(node, cookie=cookie))
    record_property("logout_propagation_seconds", took)
    # Through the bus, not merely because cached copies aged out (that bound is the TTL).
    assert took < 2 * POLL + SLACK < CACHE_TTL


async def test_a_token_revoked_on_one_node_is_refused_on_the_others_within_the_bound(
    clients: list[httpx.AsyncClient], record_property: Callable[[str, object], None]
) -> None:
    a, b, c = clients
    tokens = await token_login(a, new_account())
    access = tokens["access_token"]
    assert [await me(node, token=access) for node in (a, b, c)] == [200, 200, 200]
    revoke = await c.post("/auth/token/revoke", headers={"Authorization": f"Bearer {access}"})
    assert revoke.status_code == 204
    assert await me(c, token=access) == 401  # where it was revoked: at once
    took = await refused_after([a, b], lambda node: me(node, token=access))
    record_property("revocation_propagation_seconds", took)
    assert took < 2 * POLL + SLACK


async def test_refresh_token_reuse_is_detected_across_nodes(
    clients: list[httpx.AsyncClient],
) -> None:
    a, b, c = clients
    first = await token_login(a, new_account())
    phone = {"User-Agent": "phone/1.0"}
    rotated = await b.post(
        "/auth/token/refresh", json={"refresh_token": first["refresh_token"]}, headers=phone
    )
    assert rotated.status_code == 200
    second = rotated.json()
    assert await me(c, token=second["access_token"]) == 200
    # The spent token comes back from another device, on a third node: theft.
    thief = {"User-Agent": "thief/6.6"}
    reuse = await c.post(
        "/auth/token/refresh", json={"refresh_token": first["refresh_token"]}, headers=thief
    )
    assert reuse.status_code == 401
    # The whole family is revoked: the new refresh token and, on every node, its access token.
    again = await a.post(
        "/auth/token/refresh", json={"refresh_token": second["refresh_token"]}, headers=phone
    )
    assert again.status_code == 401
    await refused_after([a, b, c], lambda node: me(node, token=second["access_token"]))


async def test_one_refresh_token_spent_on_two_nodes_at_once_has_one_winner(
    clients: list[httpx.AsyncClient],
) -> None:
    a, b, _ = clients
    account = new_account()
    tokens = await token_login(a, account)
    for _ in range(8):
        body = {"refresh_token": tokens["refresh_token"]}
        answers = await asyncio.gather(
            a.post("/auth/token/refresh", json=body), b.post("/auth/token/refresh", json=body)
        )
        assert sorted(r.status_code for r in answers) == [200, 401]
        tokens = next(r.json() for r in answers if r.status_code == 200)
        # The loser raced itself from the same device: forgiven, the family lives on.
        assert await me(b, token=tokens["access_token"]) == 200


async def test_a_node_killed_mid_traffic_loses_nothing_committed(
    nodes: list[Node], clients: list[httpx.AsyncClient]
) -> None:
    doomed = nodes[3]
    committed: list[tuple[dict[str, str], str]] = []
    enough = asyncio.Event()

    async def traffic(client: httpx.AsyncClient) -> None:
        while True:
            account = new_account()
            try:
                if (await client.post("/auth/register", json=account)).status_code != 201:
                    continue
                login = await client.post("/auth/session/login", json=account)
            except httpx.HTTPError:
                return  # the node is gone
            if login.status_code == 200:
                committed.append((account, login.cookies["authward_session"]))
                if len(committed) >= 6:
                    enough.set()
            client.cookies.clear()

    async with (
        httpx.AsyncClient(base_url=doomed.base, timeout=10) as d1,
        httpx.AsyncClient(base_url=doomed.base, timeout=10) as d2,
    ):
        workers = [asyncio.create_task(traffic(d1)), asyncio.create_task(traffic(d2))]
        await asyncio.wait_for(enough.wait(), timeout=30)
        doomed.kill()  # mid-request, most likely
        await asyncio.wait_for(asyncio.gather(*workers), timeout=15)
    a, b, c = clients
    for account, cookie in committed:
        assert await me(a, cookie=cookie) == 200
        assert (await b.post("/auth/token", json=account)).status_code == 200
