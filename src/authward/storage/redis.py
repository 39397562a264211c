"""The Redis side of storage: a client for one node or a Redis Cluster, and key names.

URLs (``AUTHWARD_REDIS_URL``)::

    redis://[[user]:password@]host[:port][/db][?option=value...]      one node (or a proxy)
    rediss://...                                                       the same over TLS
    unix://[[user]:password@]/path/to/redis.sock[?db=0...]             one node, local socket
    redis+cluster://[[user]:password@]host[:port][,host[:port]...][?option=value...]
    rediss+cluster://...                                               a Redis Cluster over TLS

The cluster form lists seed nodes (one reachable node is enough; IPv6 hosts go in
brackets); the client learns the rest from ``CLUSTER SLOTS`` and follows ``MOVED``/``ASK``.
A cluster has only database 0. Query options are redis-py connection options
(``?socket_timeout=2.5``) and win over the defaults here.

Keys: every name starts with a prefix (``authward:``). A part in braces is a Redis Cluster
hash tag: keys with the same tag share a slot, which a Lua script or ``MULTI`` touching
several keys needs (https://redis.io/docs/latest/operate/oss_and_stack/reference/cluster-spec/
#hash-tags). Each store documents its own layout.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final, TypeAlias
from urllib.parse import urlsplit

from redis.asyncio import Redis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.connection import BlockingConnectionPool, SSLConnection, parse_url
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import (
    AuthenticationError,
    ClusterDownError,
    ReadOnlyError,
    RedisClusterException,
    SlotNotCoveredError,
    TryAgainError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from authward.errors import StoreUnavailable

RedisClient: TypeAlias = Redis | RedisCluster

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND: Final = timedelta(microseconds=1)
_DEFAULT_PORT: Final = 6379

# A dead Redis must cost a request about a second, not what redis-py defaults to (5 s
# timeouts, and in redis-py 8 ten retries): a client has given up on a request long before.
# One quick retry still hides a pooled connection that died with a restarted server.
_CLIENT_DEFAULTS: Final[dict[str, Any]] = {
    "socket_timeout": 1.0,
    "socket_connect_timeout": 1.0,
}
_RETRIES: Final = 1


def _retry() -> Retry:
    return Retry(ExponentialWithJitterBackoff(base=0.01, cap=0.1), _RETRIES)


def create_client(url: str, **options: Any) -> RedisClient:
    """Create the client for `url` (see the module docstring); nothing connects yet.

    Unless `options` or the URL say otherwise, a command gives up after a 1 s connect or
    read timeout and one retry. Raises ValueError for an unknown scheme or a malformed
    node list; the message never repeats the URL, which may hold a password.
    """
    scheme = url.partition("://")[0].lower()
    settings = {**_CLIENT_DEFAULTS, "retry": _retry(), **options}
    if scheme in {"redis", "rediss", "unix"}:
        # Past 100 commands in flight redis-py's default pool raises "Too many connections"
        # (a 503 here) instead of waiting; a busy node reaches that (benchmarks/soak.py, 200
        # clients). A blocking pool queues for a connection instead (a dead Redis still
        # fails within the connect timeout: its connections come back at once).
        pooled = {"max_connections": 100, "timeout": 5.0, **settings}
        return Redis.from_pool(BlockingConnectionPool.from_url(url, **pooled))
    if scheme in {"redis+cluster", "rediss+cluster"}:
        return _create_cluster(url, settings)
    raise ValueError(
        f"unsupported Redis URL scheme {scheme!r}: use redis://, rediss://, unix://, "
        "redis+cluster:// or rediss+cluster://"
    )


def _create_cluster(url: str, settings: dict[str, Any]) -> RedisCluster:
    parts = urlsplit(url)
    userinfo, _, hosts = parts.netloc.rpartition("@")
    nodes = [_node(address) for address in hosts.split(",")]
    # redis-py parses credentials and options from a one-node URL; the nodes come from us.
    scheme = parts.scheme.lower().removesuffix("+cluster")
    credentials = f"{userinfo}@" if userinfo else ""
    one_node = f"{scheme}://{credentials}localhost{parts.path}?{parts.query}"
    url_options: dict[str, Any] = dict(parse_url(one_node))
    for name in ("host", "port"):
        url_options.pop(name, None)
    if url_options.pop("db", 0) != 0:
        raise ValueError("a Redis Cluster has only database 0")
    if url_options.pop("connection_class", None) is SSLConnection:
        url_options["ssl"] = True
    return RedisCluster(startup_nodes=nodes, **{**settings, **url_options})


def _node(address: str) -> ClusterNode:
    host, port = address.strip(), str(_DEFAULT_PORT)
    if host.startswith("["):  # [IPv6]:port
        host, _, rest = host[1:].partition("]")
        port = rest.removeprefix(":") or port
    elif ":" in host:
        host, _, port = host.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError("malformed node in a redis+cluster:// URL: expected host:port")
    return ClusterNode(host, int(port))


@dataclass(frozen=True, slots=True)
class KeyNames:
    """Name keys under one prefix, so deployments (and test runs) can share a server.

    The prefix may not contain braces: a hash tag in it would put every key in one slot.
    """

    prefix: str = "authward:"

    def __post_init__(self) -> None:
        if "{" in self.prefix or "}" in self.prefix:
            raise ValueError("a Redis key prefix may not contain '{' or '}'")

    def key(self, *parts: str) -> str:
        """``<prefix><part>:<part>...``: placed by a hash of the whole name."""
        return self.prefix + ":".join(parts)

    def tagged(self, tag: str, *parts: str) -> str:
        """``<prefix>{<tag>}:<part>...``: every key with the same tag shares a slot."""
        return self.key("{" + tag + "}", *parts)

    def pattern(self, *parts: str) -> str:
        """A SCAN pattern: the literal prefix, then `parts` as glob patterns."""
        return _glob_escape(self.prefix) + ":".join(parts)


def _glob_escape(text: str) -> str:
    return "".join("\\" + char if char in "*?[]\\^" else char for char in text)


AUTHWARD_KEYS: Final = KeyNames()


def micros(at: datetime) -> int:
    """Microseconds since the epoch: exact for aware datetimes, and exact as a Lua number
    or a sorted-set score (a double holds every integer below 2**53, i.e. until year 2255)."""
    if at.tzinfo is None:
        raise ValueError("naive datetime given to Redis")
    return (at - _EPOCH) // _MICROSECOND


def from_micros(value: int | float | bytes | str) -> datetime:
    """The aware UTC datetime that `micros` turned into `value`."""
    return _EPOCH + timedelta(microseconds=int(value))


def millis_ceil(at_micros: int) -> int:
    """Milliseconds for PEXPIREAT, rounded up: a key may outlive its deadline by under a
    millisecond, never die before it."""
    return -(-at_micros // 1000)


_UNAVAILABLE: Final = (
    RedisConnectionError,  # also AuthenticationError, BusyLoadingError, MaxConnectionsError
    RedisTimeoutError,
    ClusterDownError,  # also MasterDownError: a failover in progress
    TryAgainError,  # a multi-key command during resharding
    SlotNotCoveredError,
    ReadOnlyError,  # we reached a replica mid-failover
    OSError,
    TimeoutError,
)
_PARTIAL_COVERAGE: Final = "All slots are not covered"


@asynccontextmanager
async def translated_errors(store: str = "redis") -> AsyncIterator[None]:
    """Turn a Redis that does not answer into `StoreUnavailable` (a 503, never a 500).

    Errors that mean a bug (a wrong type, a cross-slot script) pass through unchanged.
    """
    try:
        yield
    except _UNAVAILABLE as exc:
        raise StoreUnavailable(store) from exc
    except RedisClusterException as exc:
        # redis-py raises this bare class for misuse, and also when no seed node answers
        # (the connection error is its cause) or the nodes it reached cover only part of
        # the slots (a cluster still forming or half down): those two mean "unavailable".
        if isinstance(exc.__cause__, _UNAVAILABLE) or str(exc).startswith(_PARTIAL_COVERAGE):
            raise StoreUnavailable(store) from exc
        raise


async def reachable(url: str) -> bool:
    """Whether the Redis at `url` answers PING: False when it does not answer (yet).

    Raises the driver's error when it answers but refuses this configuration: a database
    index it does not have, a wrong password or user. Those will not heal by waiting, so
    `authward serve` stops on them, where a Redis that is down only delays service.
    """
    client = create_client(url)
    try:
        async with translated_errors():
            await client.ping()
    except StoreUnavailable as exc:
        if isinstance(exc.__cause__, AuthenticationError):
            raise exc.__cause__ from None
        return False
    finally:
        await client.aclose()
    return True
