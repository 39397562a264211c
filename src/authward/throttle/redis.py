"""The FailureLog in Redis (one node or a Redis Cluster), shared by every node.

Key layout (``<hex>`` is the throttle key, itself a digest: Redis holds no email)::

    authward:login-failures:<hex>   ZSET  one member per attempt, scored by its time (µs)

Each reservation trims what fell out of the window and sets the key to expire one window
after its newest entry, so an account nobody tries any more costs nothing, and `prune`
has little left to do. Needs Redis 7.0 or newer (PEXPIRETIME).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Final

from authward.errors import StoreUnavailable
from authward.storage.redis import (
    AUTHWARD_KEYS,
    KeyNames,
    RedisClient,
    from_micros,
    micros,
    millis_ceil,
    translated_errors,
)
from authward.throttle.log import Admission, Entry, Limit

# KEYS[1] the log. ARGV: cutoff (µs: older entries are dropped), since (µs: the window's
# start), ceiling, at (µs), member, keep-until (ms). Returns nil when the entry was added,
# else the score of the entry that must leave the window before there is room.
# A script, not MULTI: redis-py's async cluster pipeline queues each command of a transaction
# through asyncio.run in a new thread, and a client first used there is left with
# connections bound to that dead event loop.
# The expiry only moves out: an entry added late, out of order, must not shorten the life
# of a newer one.
_RESERVE: Final = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1])
local counted = redis.call('ZCOUNT', KEYS[1], ARGV[2], '+inf')
local ceiling = tonumber(ARGV[3])
if counted >= ceiling then
  local blocking = redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[2], '+inf', 'WITHSCORES',
                              'LIMIT', counted - ceiling, 1)
  return blocking[2]
end
redis.call('ZADD', KEYS[1], ARGV[4], ARGV[5])
if redis.call('PEXPIRETIME', KEYS[1]) < tonumber(ARGV[6]) then
  redis.call('PEXPIREAT', KEYS[1], ARGV[6])
end
return false
"""


class RedisFailureLog:
    """Attempts under opaque keys, kept for `window` after each one.

    `window` must be at least the throttle's window (`ThrottlePolicy.window`): older
    entries are dropped, so a longer look back would find too few. Every method raises
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
        self._reserve = client.register_script(_RESERVE)

    async def reserve(self, limits: Sequence[Limit], at: datetime, since: datetime) -> Admission:
        """Reserve key by key, narrowest first; give back what was taken when one is full.

        One script per key, each atomic: the keys differ in slot, so no one script can hold
        them all on a Redis Cluster. For a moment an attempt refused at a later key holds a
        slot under the earlier ones: a concurrent attempt may be refused for it (fail
        closed), and no key ever holds more than its ceiling.
        """
        at_micros = micros(at)
        args = [micros(at - self._window), micros(since)]
        keep_until = millis_ceil(micros(at + self._window))
        # Unique, so two attempts in the same microsecond are two entries.
        member = f"{at_micros}:{secrets.token_hex(8)}"
        held: list[Entry] = []
        blocking = None
        try:
            async with translated_errors():
                for key, ceiling in limits:
                    blocking = await self._reserve(
                        keys=[self._name(key)],
                        args=[*args, ceiling, at_micros, member, keep_until],
                    )
                    if blocking is not None:
                        break
                    held.append((key, member))
        except BaseException:
            await self._forget(held)  # an attempt that never ran is no failure
            raise
        if blocking is not None:
            await self.release(held)
            return Admission(blocked_by=from_micros(blocking))
        return Admission(held=tuple(held))

    async def release(self, entries: Sequence[Entry], clear: Sequence[bytes] = ()) -> None:
        async with translated_errors():
            for key, member in entries:
                await self._client.zrem(self._name(key), member)
            if clear:
                # One DEL a key: on a Redis Cluster the keys are in different slots.
                for key in clear:
                    await self._client.delete(self._name(key))

    async def _forget(self, held: Sequence[Entry]) -> None:
        try:
            await self.release(held)
        except StoreUnavailable:
            pass  # Redis is gone: the entries expire with the window.

    async def recent(self, key: bytes, since: datetime) -> list[datetime]:
        async with translated_errors():
            entries = await self._client.zrangebyscore(
                self._name(key), micros(since), "+inf", withscores=True
            )
        # (member, score) pairs: tuples over RESP2, lists over RESP3.
        return [from_micros(entry[1]) for entry in entries if isinstance(entry, tuple | list)]

    async def prune(self, before: datetime) -> int:
        """Drop entries older than `before` under every key (keys also expire by themselves)."""
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
