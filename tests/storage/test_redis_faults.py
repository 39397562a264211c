"""A Redis that dies, hangs or comes back: StoreUnavailable quickly, then healing alone.

Every test here runs its own `redis-server` (`redis_servers`), never the shared one.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta

import anyio
import pytest

from authward import crypto
from authward.clock import FrozenClock
from authward.errors import StoreUnavailable
from authward.sessions.redis import RedisSessionStore
from authward.storage.redis import RedisClient, create_client
from authward.throttle.redis import RedisFailureLog
from tests.contracts.test_session_store import make_session
from tests.servers import free_port
from tests.storage.redis_servers import RedisServers

pytestmark = pytest.mark.redis

# Connection refused must fail at once; a silent server within two socket timeouts (1 s
# each: the first try and one retry) plus the backoff.
REFUSED_WITHIN = 1.0
SILENT_WITHIN = 3.0


@pytest.fixture
async def private_redis(redis_servers: RedisServers) -> AsyncIterator[tuple[int, RedisClient]]:
    port = redis_servers.start()
    client = create_client(f"redis://127.0.0.1:{port}/0")
    yield port, client
    await client.aclose()


async def expect_unavailable(operation: Awaitable[object], within: float) -> None:
    started = time.monotonic()
    with anyio.fail_after(within + 2), pytest.raises(StoreUnavailable) as raised:
        await operation
    assert time.monotonic() - started < within
    assert raised.value.store == "redis"


def every_operation(
    store: RedisSessionStore, log: RedisFailureLog, clock: FrozenClock
) -> list[Callable[[], Awaitable[object]]]:
    now = clock.now()
    digest = crypto.digest(crypto.new_token())
    return [
        lambda: store.add(make_session(now)),
        lambda: store.get(digest),
        lambda: store.touch(digest, now, now + timedelta(minutes=30)),
        lambda: store.remove(digest),
        lambda: store.remove_by_handle("alice", crypto.new_handle()),
        lambda: store.remove_user("alice", keep=digest),
        lambda: store.list_user("alice"),
        lambda: store.sweep(now),
        lambda: store.count(),
        lambda: log.reserve(((b"k" * 32, 5),), now, now),
        lambda: log.recent(b"k" * 32, now),
        lambda: log.release([(b"k" * 32, "1:ab")], clear=[b"k" * 32]),
        lambda: log.prune(now),
    ]


async def test_a_killed_redis_is_unavailable_and_a_restarted_one_works_again(
    redis_servers: RedisServers, private_redis: tuple[int, RedisClient], clock: FrozenClock
) -> None:
    port, client = private_redis
    store = RedisSessionStore(client)
    log = RedisFailureLog(client, window=timedelta(minutes=15))
    before = make_session(clock.now())
    await store.add(before)  # pooled connections and cached scripts, about to go stale
    assert await store.get(before.id_digest) == before

    redis_servers.kill(port)
    for operation in every_operation(store, log, clock):
        await expect_unavailable(operation(), REFUSED_WITHIN)

    redis_servers.start(port)  # empty: nothing was persisted
    after = make_session(clock.now())
    # The same client, no reconnect call: it must reconnect, and reload its scripts, alone.
    await store.add(after)
    assert await store.get(after.id_digest) == after
    assert await store.get(before.id_digest) is None
    assert await store.list_user("alice") == [after]
    await log.reserve(((b"k" * 32, 5),), clock.now(), clock.now())
    assert await log.recent(b"k" * 32, clock.now()) == [clock.now()]


async def test_a_hung_redis_fails_fast_and_recovers(
    redis_servers: RedisServers, private_redis: tuple[int, RedisClient], clock: FrozenClock
) -> None:
    port, client = private_redis
    store = RedisSessionStore(client)
    session = make_session(clock.now())
    await store.add(session)

    redis_servers.freeze(port)  # connections stay open; nothing answers
    try:
        await expect_unavailable(store.get(session.id_digest), SILENT_WITHIN)
    finally:
        redis_servers.thaw(port)
    assert await store.get(session.id_digest) == session


@pytest.mark.parametrize(
    "url", ["redis://127.0.0.1:{0}/0", "redis+cluster://127.0.0.1:{0},127.0.0.1:{1}"]
)
async def test_a_redis_that_never_started_is_unavailable(url: str) -> None:
    client = create_client(url.format(free_port(), free_port()))
    try:
        await expect_unavailable(RedisSessionStore(client).count(), REFUSED_WITHIN)
    finally:
        await client.aclose()
