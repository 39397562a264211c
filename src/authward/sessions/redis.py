"""Sessions in Redis (one node or a cluster): TTL-native, so Redis drops expired ones itself.

Key layout (``<hex>`` is the session id digest in hex; the prefix comes from `KeyNames`)::

    authward:session:<hex>            HASH  the session, expiring at its earlier deadline
    authward:{u:<user_id>}:sessions   ZSET  <hex> scored by created_at (µs): the user's index
    authward:{u:<user_id>}:handles    HASH  "h:<handle>" -> <hex> and "d:<hex>" -> <handle>

A session is found by its digest alone, in one key and one round trip, on every request.
It therefore cannot share its user's slot; the user's two keys share a hash tag instead,
and every script touches the keys of one slot only (a Redis Cluster refuses more). Both
per-user keys expire with the latest absolute deadline of the user's sessions, so the
index of a user who stopped coming back disappears by itself too.

Invariant: a session whose `add` returned is in its user's index until it is removed or
expires. `add` writes the session before indexing it and removals delete it before
unindexing, so a failure in between leaves either a session nobody holds the id of (`add`
raised, no cookie was set) or an index entry without a session (stale: reads skip it,
`sweep` drops it). `remove_user` therefore never misses a live session, which logout
everywhere and a password change depend on.

Needs Redis 7.0 or newer (PEXPIRETIME).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Final, TypeGuard

from redis.asyncio.cluster import RedisCluster

from authward.assurance import amr_of, amr_text
from authward.ids import Device, UserId
from authward.pacing import DEFAULT_PACING, Pacing
from authward.sessions.models import Session
from authward.storage.redis import (
    AUTHWARD_KEYS,
    KeyNames,
    RedisClient,
    from_micros,
    micros,
    millis_ceil,
    translated_errors,
)
from authward.storage.redis_reads import pipelined_reads

# KEYS[1] session. ARGV[1] expiry (ms), then field, value, ...
# DEL first: a digest is never reused, but if it were, no field of the old one may stay.
_WRITE: Final = """
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('PEXPIREAT', KEYS[1], ARGV[1])
"""

# KEYS index, handles. ARGV hex, created_at (µs), handle, keep-until (ms).
# The keys live as long as the user's longest session: push their expiry out, never in.
_INDEX: Final = """
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('HSET', KEYS[2], 'h:' .. ARGV[3], ARGV[1], 'd:' .. ARGV[1], ARGV[3])
for _, key in ipairs(KEYS) do
  if redis.call('PEXPIRETIME', key) < tonumber(ARGV[4]) then
    redis.call('PEXPIREAT', key, ARGV[4])
  end
end
"""

# KEYS[1] session. ARGV last_seen_at (µs), idle_expires_at (µs). 1 if touched, 0 if gone.
# Check and write in one script: a touch racing a logout must not bring the session back,
# as a late HSET on a deleted key would (it creates the key, without a TTL).
_TOUCH: Final = """
local absolute = redis.call('HGET', KEYS[1], 'absolute_expires_at')
if not absolute then return 0 end
redis.call('HSET', KEYS[1], 'last_seen_at', ARGV[1], 'idle_expires_at', ARGV[2])
local deadline = math.min(tonumber(ARGV[2]), tonumber(absolute))
redis.call('PEXPIREAT', KEYS[1], string.format('%d', math.ceil(deadline / 1000)))
return 1
"""

# KEYS[1] session. ARGV user_id, at (µs). The session as HGETALL has it, or nil.
# Check and write in one script, as _TOUCH: a step-up racing a logout must not bring the
# session back, nor move the login of a session past its deadlines or of another user.
_REAUTH: Final = """
local held = redis.call('HMGET', KEYS[1], 'user_id', 'idle_expires_at', 'absolute_expires_at')
if not held[1] or held[1] ~= ARGV[1] then return false end
local at = tonumber(ARGV[2])
if at >= tonumber(held[2]) or at >= tonumber(held[3]) then return false end
redis.call('HSET', KEYS[1], 'auth_time', ARGV[2])
return redis.call('HGETALL', KEYS[1])
"""

# KEYS[1] session. ARGV[1], optional: the owner it must have. {user_id, handle} or nil.
_DELETE: Final = """
local owner = redis.call('HMGET', KEYS[1], 'user_id', 'handle')
if not owner[1] then return false end
if #ARGV > 0 and owner[1] ~= ARGV[1] then return false end
redis.call('DEL', KEYS[1])
return owner
"""

# KEYS[1] session. ARGV[1] now (µs). -1 already gone, 1 deleted as expired, 0 live.
# Checked where it is deleted, so a session touched since the sweep read it survives.
_DELETE_IF_EXPIRED: Final = """
local deadlines = redis.call('HMGET', KEYS[1], 'idle_expires_at', 'absolute_expires_at')
if not deadlines[1] then return -1 end
local now = tonumber(ARGV[1])
if now < tonumber(deadlines[1]) and now < tonumber(deadlines[2]) then return 0 end
redis.call('DEL', KEYS[1])
return 1
"""

# KEYS index, handles. ARGV hex... Forget sessions that are gone; returns how many were indexed.
_UNINDEX: Final = """
local removed = 0
for _, hex in ipairs(ARGV) do
  removed = removed + redis.call('ZREM', KEYS[1], hex)
  local handle = redis.call('HGET', KEYS[2], 'd:' .. hex)
  if handle then redis.call('HDEL', KEYS[2], 'd:' .. hex, 'h:' .. handle) end
end
return removed
"""

# What `get` reads, in this order (HMGET): every field but the digest, which is the key.
_FIELDS: Final = (
    "user_id",
    "handle",
    "created_at",
    "last_seen_at",
    "idle_expires_at",
    "absolute_expires_at",
    "user_agent",
    "ip",
    "amr",
    "auth_time",
)

# A sweep step on one node, in one call. KEYS per user: index, handles, then the keys of
# the sessions the index held when the sweep read it. ARGV[1] now (µs), ARGV[2] the length
# of a session key's prefix (the hex digest follows it), ARGV[3..] each user's session
# count. A session is deleted only if expired here, where it is deleted (a touch since the
# sweep read the index saves it); an index entry goes only with its session. Returns how
# many sessions were forgotten (deleted as expired, or already gone).
# The common case, a user whose sessions all vanished (Redis expired them), costs four
# calls for the user instead of one per session: EXISTS over all of them, one ZREM, and
# the handles dropped whole once the index is empty (a script runs alone, so no session
# can be indexed in between: an empty index means no handle is in use).
_SWEEP_STEP: Final = """
local now, cut, at, removed = tonumber(ARGV[1]), tonumber(ARGV[2]) + 1, 1, 0
for u = 3, #ARGV do
  local index, handles, count = KEYS[at], KEYS[at + 1], tonumber(ARGV[u])
  local gone = {}
  if count > 0 and redis.call('EXISTS', unpack(KEYS, at + 2, at + 1 + count)) == 0 then
    for k = at + 2, at + 1 + count do gone[#gone + 1] = string.sub(KEYS[k], cut) end
  else
    for k = at + 2, at + 1 + count do
      local deadlines = redis.call('HMGET', KEYS[k], 'idle_expires_at', 'absolute_expires_at')
      if not deadlines[1] then
        gone[#gone + 1] = string.sub(KEYS[k], cut)
      elseif now >= tonumber(deadlines[1]) or now >= tonumber(deadlines[2]) then
        redis.call('DEL', KEYS[k])
        gone[#gone + 1] = string.sub(KEYS[k], cut)
      end
    end
  end
  if #gone > 0 then
    redis.call('ZREM', index, unpack(gone))
    if redis.call('EXISTS', index) == 0 then
      redis.call('DEL', handles)
    else
      local fields = {}
      for i, hex in ipairs(gone) do fields[i] = 'd:' .. hex end
      local found = redis.call('HMGET', handles, unpack(fields))
      for i = 1, #gone do
        if found[i] then fields[#fields + 1] = 'h:' .. found[i] end
      end
      redis.call('HDEL', handles, unpack(fields))
    end
    removed = removed + #gone
  end
  at = at + 2 + count
end
return removed
"""

_INDEX_SUFFIX: Final = ":sessions"
_HANDLES_SUFFIX: Final = ":handles"
# A sweep step takes pacing.batch // this many users: about `batch` sessions at the default
# per-user limit.
_SESSIONS_PER_USER: Final = 10
# Redis runs a script alone: every request waits for it. A step's users therefore go in
# calls of their own, each holding about this many sessions (one user at least), so no
# request waits for more than a fraction of a millisecond. Measured on a million vanished
# sessions: a call of 200 blocked Redis 0.5 ms (p99 1 ms), one of 50 0.2 ms; more calls
# cost the sweep CPU, and beside a busy server on two cores it was the long blocks that
# raised request p99 (benchmarks/scale.py).
_SESSIONS_PER_CALL: Final = 50


_User = tuple[str, list[bytes | str]]  # a user's index key and the members read from it


def _calls(users: list[_User], sessions: int) -> list[list[_User]]:
    """`users` in runs holding at most `sessions` members each, in order; a user holding
    more goes alone (a user's index is read and cleaned in one call)."""
    calls: list[list[_User]] = []
    held = 0
    for user in users:
        if not calls or held + len(user[1]) > sessions:
            calls.append([])
            held = 0
        calls[-1].append(user)
        held += len(user[1])
    return calls


def _handles_key(index: str) -> str:
    return index.removesuffix(_INDEX_SUFFIX) + _HANDLES_SUFFIX


class RedisSessionStore:
    """Sessions in Redis, laid out as the module docstring says.

    Every method raises StoreUnavailable when Redis does not answer. Redis expires
    sessions on its own clock, so `get` may return None for a session the memory store
    would still return as expired. `sweep` and `count` walk the keyspace with SCAN (every
    primary of a cluster): meant for background jobs and metrics, not for requests.
    """

    def __init__(
        self,
        client: RedisClient,
        *,
        keys: KeyNames = AUTHWARD_KEYS,
        scan_batch: int = 100,
        pacing: Pacing = DEFAULT_PACING,
    ) -> None:
        self._client = client
        self._keys = keys
        # SCAN's COUNT: the buckets one call walks, Redis serving nobody else meanwhile.
        # At 1,000 a call blocked it about 2 ms on a million vanished sessions' users, at
        # 100 about 0.2 ms, for ten times as many round trips (a few thousand in all).
        self._scan_batch = scan_batch
        self._pacing = pacing
        self._write = client.register_script(_WRITE)
        self._index = client.register_script(_INDEX)
        self._touch = client.register_script(_TOUCH)
        self._reauth = client.register_script(_REAUTH)
        self._delete = client.register_script(_DELETE)
        self._delete_if_expired = client.register_script(_DELETE_IF_EXPIRED)
        self._unindex = client.register_script(_UNINDEX)
        self._sweep_step = client.register_script(_SWEEP_STEP)
        # The read of every request, pipelined on a connection of its own where it can be
        # (one node, RESP2); elsewhere it goes through the client.
        self._reads = pipelined_reads(client)

    async def add(self, session: Session) -> None:
        idle, absolute = micros(session.idle_expires_at), micros(session.absolute_expires_at)
        hex_digest = session.id_digest.hex()
        async with translated_errors():
            await self._write(
                keys=[self._session_key(hex_digest)],
                args=[millis_ceil(min(idle, absolute)), *_fields(session)],
            )
            await self._index(
                keys=self._user_keys(session.user_id),
                args=[
                    hex_digest,
                    micros(session.created_at),
                    session.handle,
                    millis_ceil(absolute),
                ],
            )

    async def get(self, id_digest: bytes) -> Session | None:
        key = self._session_key(id_digest.hex())
        async with translated_errors():
            if self._reads is not None:
                values = await self._reads.read("HMGET", key, *_FIELDS)
            else:
                values = await self._client.hmget(key, _FIELDS)
        return _read_session(id_digest, values)

    async def touch(self, id_digest: bytes, seen_at: datetime, idle_expires_at: datetime) -> None:
        async with translated_errors():
            await self._touch(
                keys=[self._session_key(id_digest.hex())],
                args=[micros(seen_at), micros(idle_expires_at)],
            )

    async def reauthenticate(
        self, id_digest: bytes, user_id: UserId, at: datetime
    ) -> Session | None:
        async with translated_errors():
            flat = await self._reauth(
                keys=[self._session_key(id_digest.hex())], args=[user_id, micros(at)]
            )
        if not flat:
            return None
        return _session(id_digest, dict(zip(flat[::2], flat[1::2], strict=True)))

    async def remove(self, id_digest: bytes) -> bool:
        hex_digest = id_digest.hex()
        async with translated_errors():
            owner = await self._delete(keys=[self._session_key(hex_digest)])
            if owner is None:
                return False
            await self._unindex(keys=self._user_keys(_text(owner[0])), args=[hex_digest])
        return True

    async def remove_by_handle(self, user_id: UserId, handle: str) -> bool:
        index, handles = self._user_keys(user_id)
        async with translated_errors():
            # The handle map is the user's own: another user's handle is simply not in it.
            hex_digest = await self._client.hget(handles, f"h:{handle}")
            if hex_digest is None:
                return False
            hex_digest = _text(hex_digest)
            owner = await self._delete(keys=[self._session_key(hex_digest)], args=[user_id])
            await self._unindex(keys=[index, handles], args=[hex_digest])
        return owner is not None

    async def remove_user(self, user_id: UserId, *, keep: bytes | None = None) -> int:
        index, handles = self._user_keys(user_id)
        spared = keep.hex() if keep is not None else None
        async with translated_errors():
            members = await self._members(index)
            doomed = [m for m in members if m != spared]
            if not doomed:
                return 0
            # Sessions first, then their index entries: see the invariant above.
            removed = int(await self._client.delete(*map(self._session_key, doomed)))
            await self._unindex(keys=[index, handles], args=doomed)
        return removed

    async def list_user(self, user_id: UserId) -> list[Session]:
        index, _ = self._user_keys(user_id)
        async with translated_errors():
            members = await self._members(index)
            if not members:
                return []
            pipe = self._client.pipeline(transaction=False)
            for hex_digest in members:
                pipe.hgetall(self._session_key(hex_digest))
            found: Sequence[Mapping[bytes | str, bytes | str]] = await pipe.execute()
        sessions = [_session(bytes.fromhex(m), f) for m, f in zip(members, found, strict=True) if f]
        return sorted(sessions, key=lambda s: (s.created_at, s.handle))

    async def sweep(self, now: datetime) -> int:
        """Delete sessions expired at `now` and drop index entries of vanished ones.

        Returns both kinds together: a session Redis expired on its own still counts as
        removed, since this is where the store forgets it completely. Users are swept a
        step at a time (about `pacing.batch` sessions: their indexes in one round trip,
        then a script per `_SESSIONS_PER_CALL` or so; on a cluster three pipelined round
        trips), with the pacing's rest after each step.
        """
        now_micros, total, step = micros(now), 0, []
        users_per_step = max(1, self._pacing.batch // _SESSIONS_PER_USER)
        async with translated_errors():
            began = time.perf_counter()
            async for index in self._client.scan_iter(
                match=self._keys.pattern("{u:*}" + _INDEX_SUFFIX),
                count=self._scan_batch,
                _type="zset",
            ):
                if (name := _text(index)) in step:
                    continue  # SCAN may return a key twice; once per step is enough
                step.append(name)
                if len(step) == users_per_step:
                    total += await self._sweep_users(step, now_micros)
                    step = []
                    await self._pacing.rest_after(time.perf_counter() - began)
                    began = time.perf_counter()
            if step:
                total += await self._sweep_users(step, now_micros)
        return total

    async def count(self) -> int:
        """How many sessions Redis holds: exact on a quiet store, approximate while
        sessions come and go (SCAN may miss or repeat keys changed during the walk)."""
        total = 0
        async with translated_errors():
            async for _ in self._client.scan_iter(
                match=self._keys.pattern("session:*"), count=self._scan_batch, _type="hash"
            ):
                total += 1
        return total

    async def _sweep_users(self, indexes: list[str], now: int) -> int:
        pipe = self._client.pipeline(transaction=False)
        for index in indexes:
            pipe.zrange(index, 0, -1)
        read = [[m for m in members if _is_text(m)] for members in await pipe.execute()]
        if isinstance(self._client, RedisCluster):
            users = [(i, [_text(m) for m in ms]) for i, ms in zip(indexes, read, strict=True)]
            return await self._sweep_users_apart(users, now)
        # One node: the whole step in one script. Per session the client then sends one
        # key (bytes, as read: nothing to encode) instead of a command and its reply;
        # pipelined commands made a step's cost mostly Python, and a million vanished
        # sessions took minutes of CPU at the sweep's low priority.
        prefix, removed = self._session_key("").encode(), 0
        for call in _calls(list(zip(indexes, read, strict=True)), _SESSIONS_PER_CALL):
            keys: list[bytes | str] = []
            for index, members in call:
                keys += [index, _handles_key(index)]
                keys += [prefix + (m if isinstance(m, bytes) else m.encode()) for m in members]
            counts = [len(members) for _, members in call]
            removed += int(await self._sweep_step(keys=keys, args=[now, len(prefix), *counts]))
        return removed

    async def _sweep_users_apart(self, users: list[tuple[str, list[str]]], now: int) -> int:
        # Every deadline and handle in one round trip; scripts only for the few sessions
        # still to delete (Redis already dropped most expired ones by itself).
        pipe = self._client.pipeline(transaction=False)
        for index, members in users:
            for hex_digest in members:
                pipe.hmget(
                    self._session_key(hex_digest), ["idle_expires_at", "absolute_expires_at"]
                )
            if members:
                pipe.hmget(_handles_key(index), [f"d:{m}" for m in members])
        replies = iter(await pipe.execute())
        pipe, removed = self._client.pipeline(transaction=False), 0
        for index, members in users:
            if not members:
                continue
            deadlines = [next(replies) for _ in members]
            handles: Sequence[bytes | str | None] = next(replies)
            gone: list[tuple[str, bytes | str | None]] = []
            for hex_digest, (idle, absolute), handle in zip(
                members, deadlines, handles, strict=True
            ):
                if idle is None or absolute is None:
                    gone.append((hex_digest, handle))
                elif now >= int(idle) or now >= int(absolute):
                    # Checked again where it is deleted: a touch since this read saves it.
                    key = self._session_key(hex_digest)
                    if await self._delete_if_expired(keys=[key], args=[now]) != 0:
                        gone.append((hex_digest, handle))
            if gone:
                # Index entries of sessions that are gone for good (a digest never returns):
                # _UNINDEX's work as plain commands, so the whole step is one pipeline (on
                # a cluster too, whose pipelines carry no scripts). Handles read above.
                pipe.zrem(index, *(hex_digest for hex_digest, _ in gone))
                fields = [f"d:{hex_digest}" for hex_digest, _ in gone]
                fields += [f"h:{_text(handle)}" for _, handle in gone if handle is not None]
                pipe.hdel(_handles_key(index), *fields)
                removed += len(gone)
        if removed:
            await pipe.execute()
        return removed

    async def _members(self, index: str) -> list[str]:
        return [_text(m) for m in await self._client.zrange(index, 0, -1) if _is_text(m)]

    def _session_key(self, hex_digest: str) -> str:
        return self._keys.key("session", hex_digest)

    def _user_keys(self, user_id: UserId) -> list[str]:
        tag = f"u:{user_id}"
        return [self._keys.tagged(tag) + _INDEX_SUFFIX, self._keys.tagged(tag) + _HANDLES_SUFFIX]


def _fields(session: Session) -> list[str | int]:
    return [
        "user_id",
        session.user_id,
        "handle",
        session.handle,
        "created_at",
        micros(session.created_at),
        "last_seen_at",
        micros(session.last_seen_at),
        "idle_expires_at",
        micros(session.idle_expires_at),
        "absolute_expires_at",
        micros(session.absolute_expires_at),
        "user_agent",
        session.device.user_agent,
        "ip",
        session.device.ip,
        "amr",
        amr_text(session.amr),
        *(() if session.auth_time is None else ("auth_time", micros(session.auth_time))),
    ]


def _session(id_digest: bytes, raw: Mapping[bytes | str, bytes | str]) -> Session:
    fields = {_text(name): _text(value) for name, value in raw.items()}
    return Session(
        id_digest=id_digest,
        handle=fields["handle"],
        user_id=fields["user_id"],
        created_at=from_micros(fields["created_at"]),
        last_seen_at=from_micros(fields["last_seen_at"]),
        idle_expires_at=from_micros(fields["idle_expires_at"]),
        absolute_expires_at=from_micros(fields["absolute_expires_at"]),
        device=Device(user_agent=fields["user_agent"], ip=fields["ip"]),
        auth_time=from_micros(fields["auth_time"]) if "auth_time" in fields else None,
        amr=amr_of(fields.get("amr")),
    )


def _read_session(id_digest: bytes, values: Sequence[bytes | str | None]) -> Session | None:
    """The session from `get`'s HMGET of `_FIELDS`; None when the key is gone (all None)."""
    user_id, handle, created, seen, idle, absolute, agent, ip, amr, auth_time = values
    if user_id is None or handle is None or agent is None or ip is None:
        return None
    if created is None or seen is None or idle is None or absolute is None:
        return None
    return Session(
        id_digest=id_digest,
        handle=_text(handle),
        user_id=_text(user_id),
        created_at=from_micros(created),
        last_seen_at=from_micros(seen),
        idle_expires_at=from_micros(idle),
        absolute_expires_at=from_micros(absolute),
        device=Device(user_agent=_text(agent), ip=_text(ip)),
        auth_time=None if auth_time is None else from_micros(auth_time),
        amr=amr_of(None if amr is None else _text(amr)),
    )


def _is_text(value: object) -> TypeGuard[bytes | str]:
    return isinstance(value, bytes | str)


def _text(value: bytes | str) -> str:
    # Clients made with decode_responses=True hand back str; ours hand back bytes.
    return value.decode() if isinstance(value, bytes) else value
