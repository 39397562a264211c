"""authward.storage.redis without a server: URLs, key names, time encoding, error translation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.connection import SSLConnection
from redis.crc import key_slot
from redis.exceptions import (
    AuthenticationError,
    BusyLoadingError,
    ClusterDownError,
    ConnectionError,
    MasterDownError,
    ReadOnlyError,
    RedisClusterException,
    ResponseError,
    TimeoutError,
    TryAgainError,
)

from authward.errors import StoreUnavailable
from authward.storage.redis import (
    KeyNames,
    create_client,
    from_micros,
    micros,
    millis_ceil,
    translated_errors,
)


async def test_a_redis_url_makes_a_node_client_that_fails_fast() -> None:
    client = create_client("redis://:s3cret@127.0.0.1:6390/2")
    assert isinstance(client, Redis)
    options = client.connection_pool.connection_kwargs
    assert (options["db"], options["password"]) == (2, "s3cret")
    assert options["socket_timeout"] == options["socket_connect_timeout"] == 1.0
    assert options["retry"].get_retries() == 1
    await client.aclose()


async def test_query_options_win_over_the_defaults() -> None:
    client = create_client("redis://127.0.0.1:6390/0?socket_timeout=2.5")
    assert client.connection_pool.connection_kwargs["socket_timeout"] == 2.5
    await client.aclose()


async def test_a_cluster_url_lists_its_seed_nodes() -> None:
    client = create_client(
        "redis+cluster://ops:p%40ss@[::1]:7002,10.0.0.1:7000,10.0.0.2,seed:7001?socket_timeout=3"
    )
    assert isinstance(client, RedisCluster)
    assert set(client.nodes_manager.startup_nodes) == {
        "::1:7002",
        "10.0.0.1:7000",
        "10.0.0.2:6379",
        "seed:7001",
    }
    options = client.connection_kwargs
    assert (options["username"], options["password"]) == ("ops", "p@ss")
    assert options["socket_timeout"] == 3
    assert options["socket_connect_timeout"] == 1.0
    await client.aclose()


async def test_rediss_cluster_speaks_tls() -> None:
    client = create_client("rediss+cluster://10.0.0.1:7000")
    assert isinstance(client, RedisCluster)
    assert client.connection_kwargs["connection_class"] is SSLConnection
    await client.aclose()


@pytest.mark.parametrize(
    "url",
    [
        "http://user:s3cret@127.0.0.1:6379",
        "redis+cluster://user:s3cret@127.0.0.1:notaport",
        "redis+cluster://user:s3cret@127.0.0.1:7000,",
        "redis+cluster://user:s3cret@127.0.0.1:7000/3",
    ],
)
def test_a_bad_url_is_refused_without_repeating_it(url: str) -> None:
    with pytest.raises(ValueError) as refused:
        create_client(url)
    assert "s3cret" not in str(refused.value)


def test_key_names_tag_what_must_share_a_slot() -> None:
    keys = KeyNames("app:")
    assert keys.key("session", "ab12") == "app:session:ab12"
    assert keys.tagged("u:42", "sessions") == "app:{u:42}:sessions"
    assert key_slot(keys.tagged("u:42", "sessions").encode()) == key_slot(
        keys.tagged("u:42", "handles").encode()
    )
    assert KeyNames().key("x") == "authward:x"


def test_a_prefix_with_a_hash_tag_is_refused() -> None:
    with pytest.raises(ValueError):
        KeyNames("app{1}:")


def test_scan_patterns_take_the_prefix_literally() -> None:
    assert KeyNames("a*b?[c]\\:").pattern("session:*") == "a\\*b\\?\\[c\\]\\\\:session:*"


def test_times_round_trip_to_the_microsecond() -> None:
    at = datetime(2030, 1, 1, 12, 30, 5, 123_457, tzinfo=UTC)
    assert from_micros(micros(at)) == at
    assert from_micros(str(micros(at)).encode()) == at
    assert from_micros(float(micros(at))) == at  # as a sorted-set score comes back
    assert millis_ceil(micros(at)) == micros(at + timedelta(microseconds=543)) // 1000
    assert millis_ceil(1_000) == 1


def test_a_naive_time_is_refused() -> None:
    with pytest.raises(ValueError):
        micros(datetime(2030, 1, 1))


@pytest.mark.parametrize(
    "error",
    [
        ConnectionError("refused"),
        AuthenticationError("wrong password"),
        BusyLoadingError("loading"),
        TimeoutError("timed out"),
        ClusterDownError("CLUSTERDOWN"),
        MasterDownError("MASTERDOWN"),
        TryAgainError("TRYAGAIN"),
        ReadOnlyError("READONLY"),
        ConnectionResetError(),
        OSError("unreachable"),
        RedisClusterException("All slots are not covered after query all startup_nodes."),
    ],
)
async def test_a_redis_that_does_not_answer_is_unavailable(error: Exception) -> None:
    with pytest.raises(StoreUnavailable) as raised:
        async with translated_errors():
            raise error
    assert raised.value.__cause__ is error


async def test_no_reachable_seed_node_is_unavailable() -> None:
    with pytest.raises(StoreUnavailable):
        async with translated_errors():
            try:
                raise ConnectionError("refused")
            except ConnectionError as exc:
                raise RedisClusterException("Redis Cluster cannot be connected.") from exc


@pytest.mark.parametrize(
    "error",
    [
        ResponseError("WRONGTYPE Operation against a key holding the wrong kind of value"),
        RedisClusterException("EVALSHA - all keys must map to the same key slot"),
        ValueError("a bug"),
    ],
)
async def test_a_bug_is_not_disguised_as_unavailability(error: Exception) -> None:
    with pytest.raises(type(error)):
        async with translated_errors():
            raise error
