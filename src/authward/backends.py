"""What the nodes of one deployment share, chosen from Settings: SQL alone, or Redis too.

Without ``AUTHWARD_REDIS_URL`` everything shared lives in the database, and revocations
travel through its polled table (`SqlRevocationBus`): the workers of one machine, or
nodes on one PostgreSQL, agree within ``AUTHWARD_REVOCATION_POLL_INTERVAL``.

With it, sessions (`RedisSessionStore`), failed-login counts (`RedisFailureLog`) and the
revocation bus (`RedisRevocationBus`) move to Redis, one node or a Redis Cluster. Users,
signing keys and refresh token families stay in the database: they must survive
anything, and a refresh rotation is one conditional UPDATE there, which already gives
exactly one winner between racing nodes.

Either way, ``AUTHWARD_SESSION_CACHE_TTL`` puts a `CachedSessionStore` in front of the
session store. Redis being down at start is no reason not to start: every call that
needs it answers 503 (StoreUnavailable) until it is back, and the subscriber reconnects
by itself.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from authward.clock import Clock
from authward.errors import StoreUnavailable
from authward.revocation.bus import RevocationBus
from authward.revocation.redis import RedisRevocationBus
from authward.revocation.sql import SqlRevocationBus
from authward.sessions.cache import CachedSessionStore
from authward.sessions.redis import RedisSessionStore
from authward.sessions.store import SessionStore
from authward.settings import Settings
from authward.storage.redis import KeyNames, RedisClient, create_client, translated_errors
from authward.throttle.log import FailureLog
from authward.throttle.redis import RedisFailureLog

HEALTH_TIMEOUT = 2.0  # seconds


@dataclass
class Backends:
    """The shared parts of a deployment; `session_store` and `failure_log` are None when
    they stay in SQL."""

    settings: Settings
    clock: Clock
    bus: RevocationBus
    redis: RedisClient | None = None
    session_store: SessionStore | None = None
    failure_log: FailureLog | None = None

    @classmethod
    def of(cls, settings: Settings, engine: AsyncEngine, clock: Clock) -> Backends:
        """Choose from `settings`; nothing connects yet."""
        if settings.redis_url is None:
            return cls(settings, clock, SqlRevocationBus(engine, clock))
        client = create_client(settings.redis_url)
        keys = KeyNames(settings.redis_prefix)
        return cls(
            settings,
            clock,
            RedisRevocationBus(client, clock, keys=keys),
            redis=client,
            session_store=RedisSessionStore(client, keys=keys, pacing=settings.sweep_pacing),
            failure_log=RedisFailureLog(
                client, window=timedelta(seconds=settings.login_window), keys=keys
            ),
        )

    def cached(self, store: SessionStore) -> SessionStore:
        """`store` behind this node's session cache, when AUTHWARD_SESSION_CACHE_TTL is set."""
        if self.settings.session_cache_ttl <= 0:
            return store
        return CachedSessionStore(
            store,
            self.bus,
            self.clock,
            ttl=timedelta(seconds=self.settings.session_cache_ttl),
            max_entries=self.settings.session_cache_size,
        )

    def start(self) -> None:
        """Start the Redis subscriber (a server does; a CLI command does not need it)."""
        if isinstance(self.bus, RedisRevocationBus):
            self.bus.start()

    async def close(self) -> None:
        if isinstance(self.bus, RedisRevocationBus):
            await self.bus.close()
        if self.redis is not None:
            await self.redis.aclose()

    async def health(self) -> dict[str, bool]:
        """Whether Redis answers PING (every node of a cluster); empty without Redis."""
        if self.redis is None:
            return {}
        try:
            async with translated_errors():
                await asyncio.wait_for(self.redis.ping(), timeout=HEALTH_TIMEOUT)
        except (StoreUnavailable, TimeoutError):
            return {"redis": False}
        return {"redis": True}

    def staleness(self) -> dict[str, float]:
        """The bounds, in seconds, that /healthz states while every store answers.

        ``revocation_staleness_seconds``: how long a token revoked on another node may
        still verify here (the polled table: one interval; Redis: milliseconds as a
        rule, two intervals when a message is lost). ``session_staleness_seconds``: how
        long a session ended on another node may still be accepted here (0 without a
        session cache: every request asks the store).
        """
        interval = self.settings.revocation_poll_interval
        revocations = 2 * interval if isinstance(self.bus, RedisRevocationBus) else interval
        return {
            "revocation_staleness_seconds": revocations,
            "session_staleness_seconds": self.settings.session_cache_ttl,
        }
