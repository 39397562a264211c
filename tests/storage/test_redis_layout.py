"""What the Redis stores leave in Redis: key names, slots, expiry, and no secrets."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from redis.crc import key_slot

from authward import crypto
from authward.clock import FrozenClock
from authward.pacing import Pacing
from authward.sessions.redis import _SESSIONS_PER_CALL as SESSIONS_PER_CALL
from authward.sessions.redis import RedisSessionStore
from authward.sessions.redis import _calls as sweep_calls
from authward.storage.redis import KeyNames, RedisClient, micros, millis_ceil
from authward.throttle.redis import RedisFailureLog
from tests.contracts.test_session_store import IDLE, make_session

pytestmark = pytest.mark.redis

RedisSpace = tuple[RedisClient, KeyNames]


@pytest.fixture(params=["redis_node", "redis_cluster"])
def space(request: pytest.FixtureRequest) -> RedisSpace:
    found: RedisSpace = request.getfixturevalue(request.param)
    return found


async def dump(space: RedisSpace) -> dict[str, object]:
    """Every key under the test's prefix, with its whole content."""
    client, keys = space
    contents: dict[str, object] = {}
    async for raw_name in client.scan_iter(match=keys.pattern("*")):
        name = raw_name.decode()
        kind = (await client.type(name)).decode()
        if kind == "hash":
            contents[name] = await client.hgetall(name)
        else:
            contents[name] = await client.zrange(name, 0, -1, withscores=True)
    return contents


async def expire_time(space: RedisSpace, name: str) -> datetime:
    client, _ = space
    return datetime.fromtimestamp(await client.pexpiretime(name) / 1000, UTC)


def ms(at: datetime) -> datetime:
    return datetime.fromtimestamp(millis_ceil(micros(at)) / 1000, UTC)


async def test_a_session_is_one_key_and_its_user_two_keys_in_one_slot(
    space: RedisSpace, clock: FrozenClock
) -> None:
    client, keys = space
    store = RedisSessionStore(client, keys=keys)
    clock.advance(timedelta(microseconds=1_500))  # expiry rounds up to the millisecond
    session = make_session(clock.now())
    await store.add(session)

    session_key = keys.key("session", session.id_digest.hex())
    index, handles = keys.tagged("u:alice", "sessions"), keys.tagged("u:alice", "handles")
    assert set(await dump(space)) == {session_key, index, handles}
    assert key_slot(index.encode()) == key_slot(handles.encode())
    assert await expire_time(space, session_key) == ms(session.idle_expires_at)
    assert await expire_time(space, index) == ms(session.absolute_expires_at)
    assert await expire_time(space, handles) == ms(session.absolute_expires_at)


async def test_touch_moves_the_expiry_but_never_past_the_absolute_deadline(
    space: RedisSpace, clock: FrozenClock
) -> None:
    client, keys = space
    store = RedisSessionStore(client, keys=keys)
    session = make_session(clock.now(), absolute=timedelta(hours=1))
    await store.add(session)
    session_key = keys.key("session", session.id_digest.hex())

    clock.advance(timedelta(minutes=10))
    await store.touch(session.id_digest, clock.now(), clock.now() + IDLE)
    assert await expire_time(space, session_key) == ms(clock.now() + IDLE)

    clock.advance(timedelta(minutes=45))
    await store.touch(session.id_digest, clock.now(), clock.now() + IDLE)
    assert await expire_time(space, session_key) == ms(session.absolute_expires_at)


async def test_a_later_session_keeps_the_users_keys_alive_longer(
    space: RedisSpace, clock: FrozenClock
) -> None:
    client, keys = space
    store = RedisSessionStore(client, keys=keys)
    later = make_session(clock.now() + timedelta(hours=1))
    await store.add(later)
    await store.add(make_session(clock.now()))  # added after, but ends sooner
    index = keys.tagged("u:alice", "sessions")
    assert await expire_time(space, index) == ms(later.absolute_expires_at)


async def test_redis_holds_no_session_id(space: RedisSpace, clock: FrozenClock) -> None:
    client, keys = space
    store = RedisSessionStore(client, keys=keys)
    session_id = crypto.new_token()
    session = replace(make_session(clock.now()), id_digest=crypto.digest(session_id))
    await store.add(session)
    await store.touch(session.id_digest, clock.now(), clock.now() + IDLE)
    everything = repr(await dump(space))
    assert session.id_digest.hex() in everything
    assert session_id not in everything
    assert session_id.encode().hex() not in everything


async def test_redis_expires_a_session_by_itself_and_sweep_forgets_it(
    space: RedisSpace,
) -> None:
    client, keys = space
    store = RedisSessionStore(client, keys=keys)
    # Started an hour ago by the real clock: its idle deadline has passed, so the key is
    # born expired (PEXPIREAT in the past) while the user's index outlives it.
    clock = FrozenClock(datetime.now(UTC) - timedelta(hours=1))
    expired, live = make_session(clock.now()), make_session(clock.now(), idle=timedelta(hours=2))
    await store.add(expired)
    await store.add(live)

    assert await store.get(expired.id_digest) is None
    assert await store.list_user("alice") == [live]
    assert await store.count() == 1
    index = keys.tagged("u:alice", "sessions")
    assert await client.zcard(index) == 2  # a stale entry, until the sweep

    assert await store.sweep(clock.now()) == 1
    assert await client.zrange(index, 0, -1) == [live.id_digest.hex().encode()]
    handles = await client.hgetall(keys.tagged("u:alice", "handles"))
    assert handles == {
        f"h:{live.handle}".encode(): live.id_digest.hex().encode(),
        f"d:{live.id_digest.hex()}".encode(): live.handle.encode(),
    }


async def test_sweep_leaves_no_user_keys_behind(space: RedisSpace, clock: FrozenClock) -> None:
    client, keys = space
    store = RedisSessionStore(client, keys=keys)
    for user in ("alice", "bob", "carol"):
        await store.add(make_session(clock.now(), user))
    assert await store.sweep(clock.now() + timedelta(days=1)) == 3
    assert await dump(space) == {}


async def test_failures_expire_one_window_after_the_newest(
    space: RedisSpace, clock: FrozenClock
) -> None:
    client, keys = space
    window = timedelta(minutes=15)
    log = RedisFailureLog(client, window=window, keys=keys)
    key = crypto.digest("throttle key")
    name = keys.key("login-failures", key.hex())
    start = clock.now()

    await log.reserve(((key, 9),), start + timedelta(minutes=1), start)
    assert await expire_time(space, name) == ms(start + timedelta(minutes=1) + window)
    await log.reserve(((key, 9),), start, start)  # added late, by a node whose clock is behind
    assert await expire_time(space, name) == ms(start + timedelta(minutes=1) + window)

    later = start + window + timedelta(minutes=1)
    await log.reserve(((key, 9),), later, later - window)
    # The first failure (at `start`) fell out of the window and was trimmed.
    assert await client.zcard(name) == 2
    assert set(await dump(space)) == {name}


class _BeforeTheStep:
    """Wraps a store's one-call sweep step: runs `first` between the sweep's read of the
    indexes and the script, where a request could come in."""

    def __init__(self, store: RedisSessionStore, first: Callable[[], Awaitable[object]]) -> None:
        self._step, self._first = store._sweep_step, first
        store._sweep_step = self  # type: ignore[assignment]

    async def __call__(self, **call: Any) -> Any:
        await self._first()
        return await self._step(**call)


async def test_a_session_touched_after_the_sweep_read_the_index_survives(
    redis_node: RedisSpace,
) -> None:
    client, keys = redis_node
    store = RedisSessionStore(client, keys=keys)
    clock = FrozenClock(datetime.now(UTC))
    session = make_session(clock.now())
    await store.add(session)
    sweep_at = session.idle_expires_at + timedelta(seconds=1)  # expired as the sweep reads

    _BeforeTheStep(store, lambda: store.touch(session.id_digest, sweep_at, sweep_at + IDLE))
    assert await store.sweep(sweep_at) == 0
    assert await store.get(session.id_digest) is not None
    assert await store.list_user("alice") == [await store.get(session.id_digest)]


async def test_a_session_indexed_after_the_sweep_read_the_index_keeps_its_entries(
    redis_node: RedisSpace,
) -> None:
    client, keys = redis_node
    store = RedisSessionStore(client, keys=keys)
    # Born expired (its idle deadline passed by the real clock): Redis drops it at once.
    vanished = make_session(datetime.now(UTC) - timedelta(hours=1))
    await store.add(vanished)
    newcomer = make_session(datetime.now(UTC))

    _BeforeTheStep(store, lambda: store.add(newcomer))
    assert await store.sweep(datetime.now(UTC)) == 1
    assert await store.list_user("alice") == [newcomer]
    assert await client.hgetall(keys.tagged("u:alice", "handles")) == {
        f"h:{newcomer.handle}".encode(): newcomer.id_digest.hex().encode(),
        f"d:{newcomer.id_digest.hex()}".encode(): newcomer.handle.encode(),
    }
    assert await store.remove_by_handle("alice", newcomer.handle)


async def test_a_user_the_scan_returns_twice_is_counted_once(
    redis_node: RedisSpace, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, keys = redis_node
    store = RedisSessionStore(client, keys=keys)
    await store.add(make_session(datetime.now(UTC) - timedelta(hours=1)))  # born expired
    scan = client.scan_iter

    async def twice(**options: Any) -> AsyncIterator[bytes]:
        async for name in scan(**options):
            yield name
            yield name  # SCAN may return a key more than once (a rehash during the walk)

    monkeypatch.setattr(client, "scan_iter", twice)
    assert await store.sweep(datetime.now(UTC)) == 1


class _Calls:
    """Wraps a store's sweep step and records how many sessions each call carried."""

    def __init__(self, store: RedisSessionStore) -> None:
        self._step, self.sessions = store._sweep_step, list[int]()
        store._sweep_step = self  # type: ignore[assignment]

    async def __call__(self, **call: Any) -> Any:
        self.sessions.append(sum(int(count) for count in call["args"][2:]))
        return await self._step(**call)


async def test_a_sweep_step_blocks_redis_for_a_few_users_at_a_time(
    redis_node: RedisSpace,
) -> None:
    client, keys = redis_node
    store = RedisSessionStore(client, keys=keys, pacing=Pacing(batch=200, duty=1))
    born_expired = datetime.now(UTC) - timedelta(hours=1)  # Redis drops them at once
    for user in range(12):
        for _ in range(10):
            await store.add(make_session(born_expired, f"user-{user}"))
    loner = "user-with-many"  # more sessions than a call holds: it goes alone
    for _ in range(SESSIONS_PER_CALL + 5):
        await store.add(make_session(born_expired, loner))
    calls = _Calls(store)

    assert await store.sweep(datetime.now(UTC)) == 12 * 10 + SESSIONS_PER_CALL + 5
    *others, largest = sorted(calls.sessions)  # in SCAN's order: the loner splits a run
    assert largest == SESSIONS_PER_CALL + 5
    assert others and max(others) <= SESSIONS_PER_CALL
    assert await dump(redis_node) == {}


def test_users_go_in_calls_of_at_most_the_limit_one_user_at_least() -> None:
    users = [(f"u{n}", [b"x"] * size) for n, size in enumerate([3, 3, 9, 1, 2, 2, 0])]
    calls = sweep_calls(users, 5)
    assert [[name for name, _ in call] for call in calls] == [
        ["u0"],
        ["u1"],
        ["u2"],
        ["u3", "u4", "u5", "u6"],
    ]
    assert sweep_calls([], 5) == []


async def test_the_sweep_walks_the_keyspace_in_short_scans(
    redis_node: RedisSpace, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, keys = redis_node
    store = RedisSessionStore(client, keys=keys)
    await store.add(make_session(datetime.now(UTC) - timedelta(hours=1)))
    scan, counts = client.scan_iter, list[int]()

    def recorded(**options: Any) -> AsyncIterator[bytes]:
        counts.append(options["count"])
        return scan(**options)

    monkeypatch.setattr(client, "scan_iter", recorded)
    assert await store.sweep(datetime.now(UTC)) == 1
    assert counts and max(counts) <= 100  # a SCAN of 1,000 buckets blocked Redis ~2 ms
