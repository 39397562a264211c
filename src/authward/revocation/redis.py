"""Revocations through Redis: a record any node can read whole, and pub/sub to push them.

Key layout (one hash tag, so one script can touch every key on a Redis Cluster)::

    authward:{revocations}:live     HASH    "<kind>:<subject>" -> "<at µs>:<until µs>"
    authward:{revocations}:until    ZSET    "<kind>:<subject>" scored by until (µs)
    authward:{revocations}:seq      STRING  how many revocations were ever published
    authward:{revocations}:events   channel "<seq> <kind> <at µs> <until µs> <subject>"

`publish` is one script: it records the revocation (merging with an earlier one of the
same subject), forgets a few that ran out, counts it, and PUBLISHes it with its number.
Being one script, "in the record" and "announced" happen together: a node that subscribes
first and reads the record second misses nothing.

A node's subscriber task does exactly that on every (re)connection: SUBSCRIBE, then a full
read of the record (the resync), and only then counts as live. A gap in the numbers of
the messages it receives means one was lost: it reads the record again. Pub/sub is "at
most once", so the count also closes the last hole: every
``AUTHWARD_REVOCATION_POLL_INTERVAL`` `sync` reads the counter (one GET) and, if a number
seen there has still not arrived by the next poll, reads the record. A revocation is
thus in force on every node that can reach Redis within two poll intervals at worst,
within milliseconds as a rule. When the subscription is down, `sync` reads the record
itself; when Redis does not answer, `sync` raises and the TokenService's staleness check
fails verification closed. The subscription sends PING when idle, so a connection that
died silently is noticed within `DEAD_AFTER` seconds.

On a Redis Cluster the bus uses classic pub/sub: the script runs on the node that owns
the ``{revocations}`` slot, the cluster bus forwards PUBLISH to every node, and the
subscriber listens on that slot's owner (one hop fewer) or, failing that, any node.
Sharded pub/sub (SPUBLISH) would keep the traffic on one shard, but its subscriber must
follow the slot through every failover and reshard; revocations are few, and the counter
catches whatever a failover drops either way.

The record lives on one shard (one hash tag): it holds only revocations still in force
(an access TTL plus margins), so it stays small. A Redis that loses its data (a restart
without persistence) loses the record: running nodes keep what they hold in memory, but
a node started afterwards cannot learn revocations made before; enable AOF in production.
Needs Redis 7.0 or newer (PEXPIRETIME).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

from redis.asyncio import ConnectionPool, Redis
from redis.asyncio.client import PubSub
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.connection import AbstractConnection
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisClusterException, RedisError

from authward.clock import Clock
from authward.errors import StoreUnavailable
from authward.revocation.bus import Deliver
from authward.revocation.list import Revocation, RevocationKind
from authward.revocation.reconnect import Reconnecting
from authward.storage.redis import (
    AUTHWARD_KEYS,
    KeyNames,
    RedisClient,
    from_micros,
    micros,
    translated_errors,
)

log = logging.getLogger(__name__)

HEARTBEAT: Final = 1.0  # seconds of silence before the subscriber sends PING
DEAD_AFTER: Final = 3.0  # seconds without a message or a PONG: the connection is dead
RECONNECT_MAX: Final = 1.0  # a Redis that came back is used again within about a second
SWEEP_BATCH: Final = 1000

_KINDS: Final[Mapping[str, RevocationKind]] = {
    "family": "family",
    "user": "user",
    "session": "session",
    "sessions": "sessions",
    "account": "account",
}

# KEYS live, until, seq. ARGV channel, field, at (µs), until (µs), now (µs), message tail.
# Returns the revocation's number.
_PUBLISH: Final = """
local at, untl = tonumber(ARGV[3]), tonumber(ARGV[4])
local known = redis.call('HGET', KEYS[1], ARGV[2])
if known then
  local sep = string.find(known, ':', 1, true)
  at = math.max(at, tonumber(string.sub(known, 1, sep - 1)))
  untl = math.max(untl, tonumber(string.sub(known, sep + 1)))
end
redis.call('HSET', KEYS[1], ARGV[2], string.format('%d:%d', at, untl))
redis.call('ZADD', KEYS[2], string.format('%d', untl), ARGV[2])
local gone = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[5], 'LIMIT', 0, 100)
if #gone > 0 then
  redis.call('HDEL', KEYS[1], unpack(gone))
  redis.call('ZREM', KEYS[2], unpack(gone))
end
local keep = math.ceil(untl / 1000)
for i = 1, 2 do
  if redis.call('PEXPIRETIME', KEYS[i]) < keep then
    redis.call('PEXPIREAT', KEYS[i], string.format('%d', keep))
  end
end
local seq = redis.call('INCR', KEYS[3])
redis.call('PUBLISH', ARGV[1], string.format('%d', seq) .. ' ' .. ARGV[6])
return seq
"""

# KEYS live, until. ARGV now (µs), batch. Returns how many were forgotten.
_SWEEP: Final = """
local gone = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
if #gone > 0 then
  redis.call('HDEL', KEYS[1], unpack(gone))
  redis.call('ZREM', KEYS[2], unpack(gone))
end
return #gone
"""


class RedisRevocationBus:
    """A RevocationBus over Redis, laid out and kept honest as the module docstring says.

    `start` runs the subscriber (the web server does; a CLI command only publishes), and
    `close` stops it. `publish`, `resync`, `sync` and `sweep` raise StoreUnavailable when
    Redis does not answer.
    """

    def __init__(
        self,
        client: RedisClient,
        clock: Clock,
        *,
        keys: KeyNames = AUTHWARD_KEYS,
        heartbeat: float = HEARTBEAT,
        dead_after: float = DEAD_AFTER,
    ) -> None:
        self._client = client
        self._clock = clock
        self._live_key = keys.tagged("revocations", "live")
        self._until_key = keys.tagged("revocations", "until")
        self._seq_key = keys.tagged("revocations", "seq")
        self.channel = keys.tagged("revocations", "events")
        self._heartbeat = heartbeat
        self._dead_after = dead_after
        self._publish = client.register_script(_PUBLISH)
        self._sweep = client.register_script(_SWEEP)
        self._subscribers: list[Deliver] = []
        self._seen = 0  # the highest number known delivered (by message or by a full read)
        self._awaited: int | None = None  # a number the counter showed at the last poll
        self._live = False
        self._lost = False
        self._outage = False  # told once; cleared, with one info line, when it is back
        self._listener = Reconnecting(
            self._listen,
            name="revocation-bus",
            expected=(StoreUnavailable, RedisError, RedisClusterException, OSError, TimeoutError),
            lost=self._lost_redis,
            longest=RECONNECT_MAX,
        )

    @property
    def live(self) -> bool:
        """Whether the subscription is up and has caught up with the record."""
        return self._live

    @property
    def connects(self) -> int:
        """Successful subscriptions, each followed by a full read."""
        return self._listener.connects

    def start(self) -> None:
        """Start the subscriber task (idempotent); it reconnects and resyncs by itself."""
        self._listener.start()

    async def close(self) -> None:
        """Stop the subscriber; the client is the caller's."""
        await self._listener.close()
        self._live = False

    def staleness(self, poll_interval: float) -> float:
        # Milliseconds as a rule; a lost message is noticed by the counter at the next
        # poll and read by the one after: two intervals.
        return 2 * poll_interval

    async def publish(self, revocation: Revocation) -> None:
        # Here first: should Redis fail, this node at least is protected.
        self._deliver(revocation)
        at, until = micros(revocation.at), micros(revocation.until)
        tail = f"{revocation.kind} {at} {until} {revocation.subject}"
        async with translated_errors():
            await self._publish(
                keys=[self._live_key, self._until_key, self._seq_key],
                args=[
                    self.channel,
                    _field(revocation.kind, revocation.subject),
                    at,
                    until,
                    micros(self._clock.now()),
                    tail,
                ],
            )

    def subscribe(self, deliver: Deliver) -> None:
        self._subscribers.append(deliver)

    async def resync(self) -> list[Revocation]:
        """Every revocation in force, read whole; the counter first, so none slips by."""
        now = self._clock.now()
        found: list[Revocation] = []
        async with translated_errors():
            seq = int(await self._client.get(self._seq_key) or 0)
            async for name, value in self._client.hscan_iter(self._live_key, count=SWEEP_BATCH):
                revocation = _from_record(name, value)
                if revocation is not None and revocation.until > now:
                    found.append(revocation)
        # A counter below what we saw means Redis lost its data and counts from 0 again.
        self._seen = seq if seq < self._seen else max(self._seen, seq)
        return found

    async def sync(self) -> None:
        """Check, with one GET, that nothing was missed; read the record when it was.

        Also the fallback while the subscription is down. Raises StoreUnavailable when
        Redis does not answer, which is what lets a dead feed fail verification closed.
        """
        async with translated_errors():
            counter = int(await self._client.get(self._seq_key) or 0)
        missed = self._awaited is not None and self._seen < self._awaited
        if not self._live or missed or counter < self._seen:
            await self._catch_up()
        self._awaited = counter if counter > self._seen else None

    async def sweep(self, now: datetime) -> int:
        total = 0
        async with translated_errors():
            while True:
                removed = int(
                    await self._sweep(
                        keys=[self._live_key, self._until_key], args=[micros(now), SWEEP_BATCH]
                    )
                )
                total += removed
                if removed < SWEEP_BATCH:
                    return total

    async def _catch_up(self) -> None:
        for revocation in await self.resync():
            self._deliver(revocation)

    def _deliver(self, revocation: Revocation) -> None:
        for deliver in self._subscribers:
            deliver(revocation)

    # --- the subscriber ------------------------------------------------------------------

    def _lost_redis(self, exc: BaseException) -> None:
        # One warning per outage, however long: a line per reconnection attempt (one a
        # second) would bury everything else in the log. The attempts go on quietly.
        if self._outage:
            log.debug("revocation subscription still down: %s", exc)
            return
        self._outage = True
        log.warning(
            "Redis does not answer (revocation subscription): %s; requests that need it "
            "are answered 503 until it is back, retrying quietly",
            exc,
        )

    async def _listen(self) -> None:
        subscriber = await self._subscriber()
        pubsub = subscriber.pubsub()
        self._lost = False
        try:
            await pubsub.subscribe(self.channel)
            await self._confirmed(pubsub)
            connection: AbstractConnection | None = pubsub.connection
            if connection is not None:
                # Any reconnection may have lost messages: make it go through a resync.
                connection.register_connect_callback(self._reconnected)  # type: ignore[no-untyped-call]
            self._listener.connected()
            await self._catch_up()
            self._live = True
            if self._outage:
                self._outage = False
                log.info("Redis answers again: revocation subscription restored")
            await self._receive_forever(pubsub)
        finally:
            self._live = False
            with contextlib.suppress(RedisError, OSError):
                await pubsub.aclose()  # type: ignore[no-untyped-call, unused-ignore]
            with contextlib.suppress(RedisError, OSError):
                await subscriber.aclose(close_connection_pool=True)

    async def _receive_forever(self, pubsub: PubSub) -> None:
        heard = pinged = time.monotonic()
        while not self._listener.closing:
            message = await pubsub.get_message(timeout=self._heartbeat)
            if self._lost:
                raise ConnectionError("the subscription reconnected on its own")
            now = time.monotonic()
            if message is not None:
                heard = now
                if message.get("type") == "message":
                    await self._receive(message.get("data"))
                continue
            if now - heard > self._dead_after:
                raise TimeoutError("the subscription went silent")
            if now - pinged >= self._heartbeat:
                await pubsub.ping()
                pinged = now

    async def _receive(self, data: object) -> None:
        parsed = _from_message(data)
        if parsed is None:
            log.warning("ignored a malformed revocation message")
            return
        seq, revocation = parsed
        self._deliver(revocation)
        if seq > self._seen + 1:
            await self._catch_up()  # a number was skipped: that message is lost
        self._seen = max(self._seen, seq)

    async def _confirmed(self, pubsub: PubSub) -> None:
        deadline = time.monotonic() + self._dead_after
        while time.monotonic() < deadline:
            message = await pubsub.get_message(timeout=self._heartbeat)
            if message is not None and message.get("type") == "subscribe":
                return
        raise TimeoutError("SUBSCRIBE was not confirmed")

    def _reconnected(self, connection: AbstractConnection) -> None:
        self._lost = True

    async def _subscriber(self) -> Redis:
        """A client of its own for the subscription: one connection, never retried."""
        connection_class: type[AbstractConnection]
        if isinstance(self._client, RedisCluster):
            await self._client.initialize()
            try:
                node = self._client.get_node_from_key(self.channel)
            except RedisError:
                node = None
            node = node or self._client.get_random_node()
            connection_class, options = node.connection_class, node.connection_kwargs
        else:
            pool = self._client.connection_pool
            connection_class, options = pool.connection_class, pool.connection_kwargs
        # No silent retry: a reconnection must go through _listen_forever, which resyncs.
        settings: dict[str, Any] = {**options, "retry": Retry(NoBackoff(), 0)}
        return Redis(connection_pool=ConnectionPool(connection_class=connection_class, **settings))


def _field(kind: str, subject: str) -> str:
    return f"{kind}:{subject}"


def _text(value: object) -> str | None:
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return value if isinstance(value, str) else None


def _from_record(name: object, value: object) -> Revocation | None:
    field, record = _text(name), _text(value)
    if field is None or record is None:
        return None
    kind, _, subject = field.partition(":")
    at, _, until = record.partition(":")
    return _revocation(kind, subject, at, until)


def _from_message(data: object) -> tuple[int, Revocation] | None:
    text = _text(data)
    if text is None:
        return None
    parts = text.split(" ", 4)
    if len(parts) != 5 or not parts[0].isdigit():
        return None
    seq, kind, at, until, subject = parts
    revocation = _revocation(kind, subject, at, until)
    return None if revocation is None else (int(seq), revocation)


def _revocation(kind: str, subject: str, at: str, until: str) -> Revocation | None:
    known = _KINDS.get(kind)
    if known is None or not subject or not at.isdigit() or not until.isdigit():
        return None
    return Revocation(known, subject, from_micros(at), from_micros(until))
