"""Pipelined reads on one Redis node: each caller its own answer, whatever happens around it.

Reads share one connection and their replies are matched by order, so these tests aim at
that order (many at once, a refused command among them, a caller that gives up) and at
a connection that dies under the reads (a private `redis-server`, killed and started).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import anyio
import pytest
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from authward.clock import FrozenClock
from authward.errors import StoreUnavailable
from authward.sessions.redis import RedisSessionStore
from authward.storage.redis import KeyNames, RedisClient, create_client
from authward.storage.redis_reads import PipelinedReads, pipelined_reads
from tests.contracts.test_session_store import make_session
from tests.storage.redis_servers import RedisServers

pytestmark = pytest.mark.redis


def one_node(client: RedisClient) -> Redis:
    assert isinstance(client, Redis)
    return client


@pytest.fixture
async def private_redis(redis_servers: RedisServers) -> AsyncIterator[tuple[int, RedisClient]]:
    port = redis_servers.start()
    # A database other than 0: the connection's handshake (SELECT) is redis-py's, kept.
    client = create_client(f"redis://127.0.0.1:{port}/3")
    yield port, client
    await client.aclose()


async def test_reads_at_once_each_get_their_own_answer(
    redis_node: tuple[RedisClient, KeyNames],
) -> None:
    client, keys = redis_node
    names = [keys.key("read", str(n)) for n in range(300)]  # more than one write carries
    for n, name in enumerate(names):
        await client.set(name, f"value-{n}")
    reads = PipelinedReads(one_node(client))

    got = await asyncio.gather(*(reads.read("GET", name) for name in names))

    assert got == [f"value-{n}".encode() for n in range(len(names))]


async def test_a_refused_command_fails_its_own_read_only(
    redis_node: tuple[RedisClient, KeyNames],
) -> None:
    client, keys = redis_node
    await client.set(keys.key("text"), "plain")
    reads = PipelinedReads(one_node(client))

    wrong, right = await asyncio.gather(
        reads.read("HGETALL", keys.key("text")),  # WRONGTYPE: not a hash
        reads.read("GET", keys.key("text")),
        return_exceptions=True,
    )

    assert isinstance(wrong, ResponseError)
    assert "WRONGTYPE" in str(wrong)
    assert right == b"plain"


async def test_a_caller_that_gives_up_does_not_shift_the_answers(
    redis_servers: RedisServers, private_redis: tuple[int, RedisClient]
) -> None:
    port, client = private_redis
    await client.set("a", "first")
    await client.set("b", "second")
    reads = PipelinedReads(one_node(client))
    assert await reads.read("PING") == b"PONG"  # the connection is open

    redis_servers.freeze(port)  # the read below is sent, and its reply held back
    try:
        given_up = asyncio.create_task(reads.read("GET", "a"))
        await asyncio.sleep(0.05)
        given_up.cancel()
        with pytest.raises(asyncio.CancelledError):
            await given_up
    finally:
        redis_servers.thaw(port)

    # The reply to the read given up still comes first: it must not be taken for this one.
    assert await reads.read("GET", "b") == b"second"


async def test_a_connection_dropped_mid_read_is_unavailable_then_heals(
    redis_servers: RedisServers, private_redis: tuple[int, RedisClient], clock: FrozenClock
) -> None:
    port, client = private_redis
    store = RedisSessionStore(client)
    session = make_session(clock.now())
    await store.add(session)
    assert await store.get(session.id_digest) == session  # the read's connection is open

    redis_servers.freeze(port)
    reading = asyncio.gather(*(store.get(session.id_digest) for _ in range(3)))
    await asyncio.sleep(0.05)  # the reads are on the wire, unanswered
    redis_servers.kill(port)  # the connection drops under them

    with pytest.raises(StoreUnavailable):
        await reading

    redis_servers.start(port)  # empty: nothing was persisted
    again = make_session(clock.now())
    await store.add(again)
    assert await store.get(again.id_digest) == again
    assert await store.get(session.id_digest) is None


async def test_a_restarted_redis_is_read_again_without_an_error(
    redis_servers: RedisServers, private_redis: tuple[int, RedisClient]
) -> None:
    port, client = private_redis
    reads = PipelinedReads(one_node(client))
    assert await reads.read("PING") == b"PONG"

    redis_servers.kill(port)
    redis_servers.start(port)

    # Its connection died while idle: the retry takes the read again on a new one.
    assert await reads.read("PING") == b"PONG"


async def test_a_session_record_missing_a_field_is_no_session(
    redis_node: tuple[RedisClient, KeyNames], clock: FrozenClock
) -> None:
    client, keys = redis_node
    store = RedisSessionStore(client, keys=keys)
    session = make_session(clock.now())
    await store.add(session)
    key = keys.key("session", session.id_digest.hex())
    await client.hdel(key, "created_at")  # as no write of ours leaves it: refuse it

    assert await store.get(session.id_digest) is None


async def test_a_silent_redis_fails_the_reads_on_an_open_connection(
    redis_servers: RedisServers, private_redis: tuple[int, RedisClient], clock: FrozenClock
) -> None:
    port, client = private_redis
    store = RedisSessionStore(client)
    session = make_session(clock.now())
    await store.add(session)
    assert await store.get(session.id_digest) == session  # the read's connection is open

    redis_servers.freeze(port)  # it stays open; nothing answers
    try:
        # The socket timeout ends the read; the guard only keeps a hang from stalling the run.
        with anyio.fail_after(30), pytest.raises(StoreUnavailable):
            await store.get(session.id_digest)
    finally:
        redis_servers.thaw(port)
    assert await store.get(session.id_digest) == session


@pytest.mark.parametrize(
    ("url", "pipelined"),
    [
        ("redis://127.0.0.1:6379/0", True),
        ("unix:///run/redis.sock?db=2", True),
        ("redis://127.0.0.1:6379/0?protocol=3", False),  # pushes would shift the replies
        ("redis+cluster://127.0.0.1:7000,127.0.0.1:7001", False),  # keys live on many nodes
    ],
)
async def test_reads_are_pipelined_on_one_node_speaking_resp2_only(
    url: str, pipelined: bool
) -> None:
    client = create_client(url)  # connects to nothing yet
    try:
        assert (pipelined_reads(client) is not None) is pipelined
    finally:
        await client.aclose()


async def test_a_redis_py_whose_connection_cannot_be_taken_over_reads_through_the_client(
    redis_node: tuple[RedisClient, KeyNames], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A later redis-py may keep its socket elsewhere: the reads must still answer (through
    # the client's own commands), never fail every session check.
    client, keys = redis_node
    await client.set(keys.key("kept"), "value")
    monkeypatch.setattr("authward.storage.redis_reads.transport_of", lambda connection: None)
    reads = PipelinedReads(one_node(client))

    got = await asyncio.gather(*(reads.read("GET", keys.key("kept")) for _ in range(3)))

    assert got == [b"value"] * 3
    assert not reads.pipelined
    # The connection it had taken went back to the pool: none is left in use by it.
    assert not one_node(client).connection_pool._in_use_connections  # type: ignore[attr-defined]
