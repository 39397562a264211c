"""Failed logins in Redis: the FailureLog of `authward.accounts.throttle`, shared by every node.

Key layout (``<hex>`` is the throttle key, itself a digest: Redis holds no email)::

    authward:login-failures:<hex>   ZSET  one member per failure, scored by its time (µs)

Each `record` trims what fell out of the window and sets the key to expire one window
after its newest failure, so an account nobody tries any more costs nothing, and `prune`
has little left to do. Needs Redis 7.0 or newer (PEXPIRETIME).
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Final

from authward.storage.redis import (
    AUTHWARD_KEYS,
    KeyNames,
    RedisClient,
    from_micros,
    micros,
    millis_ceil,
    translated_errors,
)

# KEYS[1] the log. ARGV cutoff (µs), at (µs), member, keep-until (ms).
# A script, not MULTI: redis-py's async cluster pipeline queues each command of a transaction
# through asyncio.run in a new thread, and a client first used there is left with
# connections bound to that dead event loop.
# The expiry only moves out: a failure recorded late, out of order, must not shorten the
# life of a newer one.
_RECORD: Final = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1])
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
if redis.call('PEXPIRETIME', KEYS[1]) < tonumber(ARGV[4]) then
  redis.call('PEXPIREAT', KEYS[1], ARGV[4])
end
"""


class RedisFailureLog:
    """Timestamps of failures under opaque keys, kept for `window` after each one.

    `window` must be at least the throttle's window (`ThrottlePolicy.window`): older
    failures are dropped, so a longer look back would find too few. Every method raises
    StoreUnavailable when Redis does not answer.
    """

    def __init__(
        self,
        client: RedisClient,
        *,
        window: timedelta,
        keys: KeyNames = AUTHWARD_KEYS,
        scan_batch: int = 1000,
    ) -> None:
        if window <= timedelta(0):
            raise ValueError("the failure window must be positive")
        self._client = client
        self._window = window
        self._keys = keys
        self._scan_batch = scan_batch
        self._record = client.register_script(_RECORD)

    async def record(self, keys: tuple[bytes, ...], at: datetime) -> None:
        at_micros = micros(at)
        cutoff = micros(at - self._window)
        keep_until = millis_ceil(micros(at + self._window))
        # Unique, so two failures in the same microsecond are two entries; made before
        # the call, so a retried call adds the same member again rather than a second one.
        member = f"{at_micros}:{secrets.token_hex(4)}"
        async with translated_errors():
            # One script per key: the keys differ in slot, and a failure counted under one
            # key but not the other is harmless.
            for key in keys:
                await self._record(
                    keys=[self._name(key)], args=[cutoff, at_micros, member, keep_until]
                )

    async def recent(self, key: bytes, since: datetime) -> list[datetime]:
        async with translated_errors():
            entries = await self._client.zrangebyscore(
                self._name(key), micros(since), "+inf", withscores=True
            )
        # (member, score) pairs: tuples over RESP2, lists over RESP3.
        return [from_micros(entry[1]) for entry in entries if isinstance(entry, tuple | list)]

    async def clear(self, key: bytes) -> None:
        async with translated_errors():
            await self._client.delete(self._name(key))

    async def prune(self, before: datetime) -> int:
        """Drop failures older than `before` under every key (keys also expire by themselves)."""
        bound = f"({micros(before)}"
        removed = 0
        async with translated_errors():
            async for name in self._client.scan_iter(
                match=self._keys.pattern("login-failures:*"), count=self._scan_batch, _type="zset"
            ):
                removed += int(await self._client.zremrangebyscore(name, "-inf", bound))
        return removed

    def _name(self, key: bytes) -> str:
        return self._keys.key("login-failures", key.hex())
