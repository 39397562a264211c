"""How Settings choose the shared stores, and two nodes in one process on a Redis Cluster.

In-process nodes (runtimes with their own clients, over ASGI) are quick enough to try
what the multi-process suite cannot afford: every store kind, and the cluster.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable
from contextlib import AsyncExitStack
from pathlib import Path

import httpx
import pytest

from authward.revocation.postgres import PostgresRevocationBus
from authward.revocation.redis import RedisRevocationBus
from authward.revocation.samehost import SameHostRevocationBus
from authward.revocation.sql import SqlRevocationBus
from authward.runtime import DEFAULT_SESSION_CACHE_TTL, Runtime, build_runtime
from authward.sessions.cache import CachedSessionStore
from authward.sessions.redis import RedisSessionStore
from authward.sessions.sql import SqlSessionStore
from authward.settings import Settings, SettingsError, load_settings
from authward.throttle.redis import RedisFailureLog
from authward.throttle.sql import SqlFailureLog
from tests.conftest import http_client, make_settings
from tests.servers import free_port
from tests.storage.redis_servers import RedisServers

PASSWORD = "correct horse battery"


def unwrapped(store: object) -> object:
    """The store behind metric proxies (`timed`) and the session cache."""
    while True:
        inner = getattr(store, "__wrapped__", None) or getattr(store, "store", None)
        if inner is None or isinstance(store, RedisSessionStore | SqlSessionStore):
            return store
        store = inner


def test_without_redis_everything_shared_is_in_sql(tmp_path: Path) -> None:
    """A SQLite file: the table, pushed to the other processes on it by datagrams, and so
    the session cache on by default."""
    runtime = build_runtime(make_settings(tmp_path))
    assert isinstance(runtime.sessions.store, CachedSessionStore)
    assert isinstance(unwrapped(runtime.sessions.store), SqlSessionStore)
    assert isinstance(runtime.tokens.bus, SameHostRevocationBus)
    assert runtime.tokens.bus.directory == tmp_path / "authward.db-bus"
    assert isinstance(failure_log_of(runtime), SqlFailureLog)
    assert runtime.staleness() == {
        "revocation_staleness_seconds": 1.0,
        "session_staleness_seconds": DEFAULT_SESSION_CACHE_TTL,
    }


def test_postgresql_without_redis_listens(tmp_path: Path) -> None:
    url = "postgresql://postgres@127.0.0.1:1/none"  # connects to nothing yet
    runtime = build_runtime(make_settings(tmp_path, database_url=url))
    assert isinstance(runtime.tokens.bus, PostgresRevocationBus)
    assert runtime.session_cache_ttl == DEFAULT_SESSION_CACHE_TTL


def test_a_socket_directory_open_to_others_leaves_the_poll_alone(tmp_path: Path) -> None:
    """Nobody else may reach the workers' sockets: rather no push, and no session cache
    by default (a session ended elsewhere would wait for the poll), than a shared one."""
    (tmp_path / "authward.db-bus").mkdir(mode=0o777)
    (tmp_path / "authward.db-bus").chmod(0o777)
    runtime = build_runtime(make_settings(tmp_path))
    assert type(runtime.tokens.bus) is SqlRevocationBus
    assert not isinstance(runtime.sessions.store, CachedSessionStore)
    assert runtime.staleness()["session_staleness_seconds"] == 0.0


def test_without_the_push_the_poll_carries_revocations_alone(tmp_path: Path) -> None:
    for database_url in (f"sqlite:///{tmp_path}/a.db", "postgresql://postgres@127.0.0.1:1/x"):
        settings = make_settings(tmp_path, database_url=database_url, revocation_push=False)
        runtime = build_runtime(settings)
        assert type(runtime.tokens.bus) is SqlRevocationBus
        assert runtime.session_cache_ttl == 0.0
    assert not (tmp_path / "a.db-bus").exists()


def test_a_session_cache_ttl_given_is_kept(tmp_path: Path) -> None:
    runtime = build_runtime(make_settings(tmp_path, session_cache_ttl=0))
    assert not isinstance(runtime.sessions.store, CachedSessionStore)
    assert runtime.staleness()["session_staleness_seconds"] == 0.0


async def test_healthz_states_the_bound_between_workers(tmp_path: Path) -> None:
    """`authward serve --workers N` without Redis: the polled table's interval (the push
    is at once as a rule; a datagram lost waits for the poll)."""
    runtime = build_runtime(make_settings(tmp_path, revocation_poll_interval=0.5))
    await runtime.open()
    try:
        async with http_client(runtime) as client:
            health = (await client.get("/healthz")).json()
    finally:
        await runtime.close()
    assert health["stores"] == {"database": "ok", "revocations": "ok"}
    assert health["revocation_staleness_seconds"] == 0.5
    assert health["session_staleness_seconds"] == DEFAULT_SESSION_CACHE_TTL


def test_with_redis_sessions_throttle_and_bus_move_there(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path, redis_url="redis://127.0.0.1:1/0", redis_prefix="x:", session_cache_ttl=2
    )
    runtime = build_runtime(settings)  # connects to nothing yet
    assert isinstance(runtime.sessions.store, CachedSessionStore)
    assert isinstance(unwrapped(runtime.sessions.store), RedisSessionStore)
    assert isinstance(runtime.tokens.bus, RedisRevocationBus)
    assert runtime.tokens.bus.channel == "x:{revocations}:events"
    assert isinstance(failure_log_of(runtime), RedisFailureLog)
    assert runtime.staleness() == {
        "revocation_staleness_seconds": 2.0,
        "session_staleness_seconds": 2.0,
    }


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("http://127.0.0.1:6379", "AUTHWARD_REDIS_URL"),
        ("redis://x", None),
        ("", None),
    ],
)
def test_the_redis_url_is_checked_at_start(tmp_path: Path, value: str, message: str | None) -> None:
    if message is None:
        settings = load_settings(**{**make_settings(tmp_path).model_dump(), "redis_url": value})
        assert settings.redis_url == (value or None)
        return
    with pytest.raises(SettingsError, match=message):
        load_settings(redis_url=value, secret_key="s" * 8 + secrets.token_hex(16))


def test_a_redis_prefix_with_a_hash_tag_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="AUTHWARD_REDIS_PREFIX"):
        load_settings(redis_prefix="app{1}:")


def failure_log_of(runtime: Runtime) -> object:
    log = runtime.throttle.log
    return getattr(log, "__wrapped__", log)


@pytest.mark.redis
async def test_redis_down_at_start_means_503_until_it_is_back(
    tmp_path: Path, redis_servers: RedisServers
) -> None:
    port = free_port()
    settings = make_settings(tmp_path, redis_url=f"redis://127.0.0.1:{port}/0")
    runtime = build_runtime(settings)
    assert isinstance(failure_log_of(runtime), RedisFailureLog)
    await runtime.open()  # must not raise: the server starts, and says what is missing
    try:
        async with http_client(runtime) as client:
            health = await client.get("/healthz")
            assert health.status_code == 503
            assert health.json()["stores"]["redis"] == "down"
            account = {"email": "ada@example.com", "password": PASSWORD}
            assert (await client.post("/auth/register", json=account)).status_code == 503
            assert (await client.post("/auth/session/login", json=account)).status_code == 503

            redis_servers.start(port)
            started = time.monotonic()
            while (await client.get("/healthz")).status_code != 200:
                assert time.monotonic() - started < 10, "did not heal"
                await asyncio.sleep(0.05)
            assert (await client.post("/auth/register", json=account)).status_code == 201
            assert (await client.post("/auth/session/login", json=account)).status_code == 200
    finally:
        await runtime.close()


def node_settings(tmp_path: Path, url: str, prefix: str) -> Settings:
    return make_settings(
        tmp_path,
        redis_url=url,
        redis_prefix=prefix,
        session_cache_ttl=30,  # long: only the bus can make a logout reach the other node
        revocation_poll_interval=0.05,
        insecure_cookies=True,
        register_max_attempts=1000,
    )


@pytest.mark.redis
async def test_two_nodes_on_a_redis_cluster(tmp_path: Path, redis_cluster_url: str) -> None:
    prefix = f"authward-test-{secrets.token_hex(6)}:"
    async with AsyncExitStack() as stack:
        stack.callback(delete_keys_of_cluster, redis_cluster_url, prefix)
        nodes: list[httpx.AsyncClient] = []
        for _ in range(2):
            runtime = build_runtime(node_settings(tmp_path, redis_cluster_url, prefix))
            await runtime.open()
            stack.push_async_callback(runtime.close)
            nodes.append(await stack.enter_async_context(http_client(runtime)))
        a, b = nodes
        await eventually_ok(lambda: health_ok(b))

        account = {"email": "ada@example.com", "password": PASSWORD}
        assert (await a.post("/auth/register", json=account)).status_code == 201
        login = await a.post("/auth/session/login", json=account)
        cookie = {"Cookie": f"authward_session={login.cookies['authward_session']}"}
        a.cookies.clear()
        assert (await b.get("/auth/me", headers=cookie)).status_code == 200  # cached on B
        csrf = {"X-CSRF-Token": login.json()["csrf_token"]}
        assert (await a.post("/auth/session/logout", headers={**cookie, **csrf})).status_code == 204
        await eventually_ok(lambda: status_is(b.get("/auth/me", headers=cookie), 401))

        tokens = (await b.post("/auth/token", json=account)).json()
        bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
        assert (await a.get("/auth/me", headers=bearer)).status_code == 200
        assert (await b.post("/auth/token/revoke", headers=bearer)).status_code == 204
        await eventually_ok(lambda: status_is(a.get("/auth/me", headers=bearer), 401))


async def health_ok(client: httpx.AsyncClient) -> bool:
    return (await client.get("/healthz")).status_code == 200


async def status_is(response: object, status: int) -> bool:
    answered: httpx.Response = await response  # type: ignore[misc]
    return answered.status_code == status


async def eventually_ok(check: Callable[[], object], within: float = 5.0) -> None:
    started = time.monotonic()
    while not await check():  # type: ignore[misc]
        assert time.monotonic() - started < within, "not within the bound"
        await asyncio.sleep(0.01)


def delete_keys_of_cluster(url: str, prefix: str) -> None:
    import redis.cluster

    from authward.storage.redis import _node

    seeds = url.removeprefix("redis+cluster://").split(",")
    client = redis.cluster.RedisCluster(
        startup_nodes=[redis.cluster.ClusterNode(n.host, n.port) for n in map(_node, seeds)]
    )
    try:
        for name in client.scan_iter(match=prefix + "*", count=1000):
            client.delete(name)
    finally:
        client.close()
