"""The per-node session cache: fast for repeated lookups, never later than its bound.

Two nodes are two `CachedSessionStore`s over one shared store. Their bus is either one
in-process bus (delivery at once), a bus that delivers nothing (a partition: only the
TTL protects), or the polled SQL table (two workers of one machine). Time is a
FrozenClock throughout: the bound is proved, not waited for. The SessionStore contract
itself runs on the cache, over each kind of store, in tests/contracts.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from authward.clock import FrozenClock
from authward.ids import Device
from authward.revocation.bus import LocalRevocationBus, RevocationBus
from authward.revocation.list import Revocation
from authward.revocation.sql import SqlRevocationBus
from authward.sessions.cache import CachedSessionStore
from authward.sessions.models import Session
from authward.sessions.service import SessionPolicy, SessionService
from authward.sessions.sql import SqlSessionStore
from authward.sessions.store import MemorySessionStore, SessionStore
from tests.contracts.test_session_store import make_session

TTL = timedelta(seconds=5)
POLICY = SessionPolicy(
    idle_ttl=timedelta(minutes=30), absolute_ttl=timedelta(hours=12), max_per_user=3
)


class CountingStore(MemorySessionStore):
    """The shared store, counting the lookups that reach it."""

    def __init__(self) -> None:
        super().__init__()
        self.gets = 0

    async def get(self, id_digest: bytes) -> Session | None:
        self.gets += 1
        return await super().get(id_digest)


class Partitioned(LocalRevocationBus):
    """A bus cut off from the other nodes: it hears only its own node."""


@pytest.fixture
def shared() -> CountingStore:
    return CountingStore()


def node(store: SessionStore, bus: RevocationBus, clock: FrozenClock) -> CachedSessionStore:
    return CachedSessionStore(store, bus, clock, ttl=TTL, max_entries=100)


def cached_service(shared: SessionStore, clock: FrozenClock) -> SessionService:
    """A node's SessionService over its own cache of `shared`."""
    cache = node(shared, LocalRevocationBus(), clock)
    return SessionService(cache, POLICY, clock, csrf_key=b"k" * 32, cache=cache)


async def test_a_repeated_lookup_is_answered_from_memory(
    shared: CountingStore, clock: FrozenClock
) -> None:
    a = node(shared, LocalRevocationBus(), clock)
    session = make_session(clock.now())
    await shared.add(session)
    assert await a.get(session.id_digest) == session
    assert await a.get(session.id_digest) == session
    assert shared.gets == 1
    clock.advance(TTL)
    assert await a.get(session.id_digest) == session  # too old to trust: asked again
    assert shared.gets == 2


async def test_logout_on_one_node_is_refused_on_the_other_at_once(
    shared: CountingStore, clock: FrozenClock
) -> None:
    bus = LocalRevocationBus()  # one bus for both: the network delivers at once
    a, b = node(shared, bus, clock), node(shared, bus, clock)
    session = make_session(clock.now())
    await a.add(session)
    assert await b.get(session.id_digest) == session  # cached on B now
    assert await a.remove(session.id_digest)
    assert await b.get(session.id_digest) is None


async def test_without_the_bus_a_logout_is_refused_elsewhere_within_the_ttl(
    shared: CountingStore, clock: FrozenClock
) -> None:
    a, b = node(shared, Partitioned(), clock), node(shared, Partitioned(), clock)
    session = make_session(clock.now())
    await a.add(session)
    assert await b.get(session.id_digest) == session
    assert await a.remove(session.id_digest)
    assert await a.get(session.id_digest) is None  # where it ended: at once
    clock.advance(TTL - timedelta(microseconds=1))
    assert await b.get(session.id_digest) == session  # the bound: still served
    clock.advance(timedelta(microseconds=1))
    assert await b.get(session.id_digest) is None  # and not a microsecond longer


async def test_sign_out_everywhere_and_by_handle_reach_every_node(
    shared: CountingStore, clock: FrozenClock
) -> None:
    bus = LocalRevocationBus()
    a, b = node(shared, bus, clock), node(shared, bus, clock)
    one, two, other = (make_session(clock.now()), make_session(clock.now()), make_session(
        clock.now(), "bob"
    ))  # fmt: skip
    for session in (one, two, other):
        await a.add(session)
        await b.get(session.id_digest)
    assert await a.remove_by_handle("alice", one.handle)
    assert await b.get(one.id_digest) is None
    assert await a.remove_user("alice") == 1
    assert await b.get(two.id_digest) is None
    gets = shared.gets
    assert await b.get(other.id_digest) == other  # another user's entry stays cached
    assert shared.gets == gets


async def test_a_session_started_elsewhere_is_found_at_once(
    shared: CountingStore, clock: FrozenClock
) -> None:
    bus = LocalRevocationBus()
    a, b = node(shared, bus, clock), node(shared, bus, clock)
    session = make_session(clock.now())
    assert await b.get(session.id_digest) is None  # unknown: not remembered as unknown
    await a.add(session)
    assert await b.get(session.id_digest) == session


async def test_a_copy_past_its_deadline_is_never_served(
    shared: CountingStore, clock: FrozenClock
) -> None:
    b = node(shared, LocalRevocationBus(), clock)
    session = make_session(clock.now(), idle=timedelta(seconds=2))
    await shared.add(session)
    await b.get(session.id_digest)
    # Another node slid the deadline; this node's copy still has the old one.
    await shared.touch(session.id_digest, clock.now(), clock.now() + timedelta(minutes=30))
    clock.advance(3)
    found = await b.get(session.id_digest)
    assert found is not None and not found.expired(clock.now())


async def test_touch_slides_the_cached_copy_so_it_is_written_once(
    shared: CountingStore, clock: FrozenClock
) -> None:
    a = node(shared, LocalRevocationBus(), clock)
    service = SessionService(a, POLICY, clock, csrf_key=b"k" * 32)
    started = await service.start("alice", Device())
    clock.advance(POLICY.touch_interval)
    touched = await service.resume(started.session_id)
    resumed = await service.resume(started.session_id)
    assert resumed.last_seen_at == clock.now() != touched.last_seen_at
    stored = await shared.get(started.session.id_digest)
    assert stored is not None and stored.last_seen_at == clock.now()


async def test_resume_answers_a_fresh_copy_without_the_store_and_no_later(
    shared: CountingStore, clock: FrozenClock
) -> None:
    service = cached_service(shared, clock)
    started = await service.start("alice", Device())
    for _ in range(3):
        await service.resume(started.session_id)
    assert shared.gets == 0
    clock.advance(TTL)  # the copy's bound: the store is asked again
    await service.resume(started.session_id)
    assert shared.gets == 1


async def test_a_store_set_later_is_the_one_resume_asks(
    shared: CountingStore, clock: FrozenClock
) -> None:
    service = cached_service(shared, clock)
    started = await service.start("alice", Device())
    service.store = shared  # the cache is gone: its kept copies must not answer
    await service.resume(started.session_id)
    assert shared.gets == 1


async def test_held_answers_only_a_cached_session_found_live_before(
    shared: CountingStore, clock: FrozenClock
) -> None:
    service = cached_service(shared, clock)
    started = await service.start("alice", Device())
    assert service.held(started.session_id) is None  # no request has found it live yet
    await service.resume(started.session_id)
    assert service.held(started.session_id) == started.session
    assert await service.end(started.session_id)
    assert service.held(started.session_id) is None
    plain = SessionService(shared, POLICY, clock, csrf_key=b"k" * 32)
    other = await plain.start("bob", Device())
    await plain.resume(other.session_id)
    assert plain.held(other.session_id) is None  # no cache: every request asks the store


async def test_session_ids_are_kept_only_as_long_as_their_entries(
    shared: CountingStore, clock: FrozenClock
) -> None:
    # `_digests` is checked directly: a raw id outliving its entry would change no
    # answer, only what a memory dump of the process could show.
    bus = LocalRevocationBus()
    cache = CachedSessionStore(shared, bus, clock, ttl=TTL, max_entries=2)
    service = SessionService(cache, POLICY, clock, csrf_key=b"k" * 32, cache=cache)
    started = [await service.start(user, Device()) for user in ("ann", "bob", "cy", "cy")]
    for each in started:
        await service.resume(each.session_id)
    ids = [each.session_id for each in started]
    assert set(cache._digests) == set(ids[2:])  # the two evicted took their ids along
    assert [service.held(i) is not None for i in ids] == [False, False, True, True]
    await service.end(ids[2])
    assert set(cache._digests) == {ids[3]}
    await bus.publish(Revocation("sessions", "cy", clock.now(), clock.now() + TTL))
    assert cache._digests == {}
    await service.resume(ids[1])  # read again: held again
    clock.advance(TTL)
    assert await cache.get(started[1].session.id_digest) is not None  # a stale copy, dropped
    assert service.held(ids[1]) is None


class GatedStore(CountingStore):
    """A shared store whose reads see the data when asked and answer when let go."""

    def __init__(self) -> None:
        super().__init__()
        self.asked = asyncio.Event()  # a read has seen the data
        self.gate = asyncio.Event()

    async def get(self, id_digest: bytes) -> Session | None:
        found = await super().get(id_digest)
        self.asked.set()
        await self.gate.wait()
        return found


async def test_misses_on_one_session_at_once_share_one_store_read(clock: FrozenClock) -> None:
    shared = GatedStore()
    b = node(shared, LocalRevocationBus(), clock)
    session = make_session(clock.now())
    await shared.add(session)
    requests = [asyncio.ensure_future(b.get(session.id_digest)) for _ in range(10)]
    await asyncio.sleep(0)
    shared.gate.set()
    assert [found.handle for found in await asyncio.gather(*requests)] == [session.handle] * 10
    assert shared.gets == 1


async def test_a_request_after_an_end_does_not_share_a_read_from_before_it(
    clock: FrozenClock,
) -> None:
    shared = GatedStore()
    b = node(shared, LocalRevocationBus(), clock)
    session = make_session(clock.now())
    await shared.add(session)
    before = asyncio.ensure_future(b.get(session.id_digest))
    await shared.asked.wait()  # its read has seen the session
    await b.remove(session.id_digest)  # logout, before that read answers
    after = asyncio.ensure_future(b.get(session.id_digest))
    await asyncio.sleep(0)
    shared.gate.set()
    assert (await before) is not None  # began before the logout: it may say so
    assert (await after) is None  # began after it: never
    assert shared.gets == 2


async def test_a_request_that_gives_up_leaves_the_read_to_the_others(clock: FrozenClock) -> None:
    shared = GatedStore()
    b = node(shared, LocalRevocationBus(), clock)
    session = make_session(clock.now())
    await shared.add(session)
    first = asyncio.ensure_future(b.get(session.id_digest))
    await asyncio.sleep(0)
    second = asyncio.ensure_future(b.get(session.id_digest))
    await asyncio.sleep(0)
    first.cancel()  # its client went away
    shared.gate.set()
    found = await second
    assert found is not None and found.handle == session.handle
    assert shared.gets == 1


async def test_a_read_overlapping_a_logout_is_not_kept(clock: FrozenClock) -> None:
    class SlowStore(MemorySessionStore):
        def __init__(self) -> None:
            super().__init__()
            self.reading = asyncio.Event()
            self.proceed = asyncio.Event()

        async def get(self, id_digest: bytes) -> Session | None:
            found = await super().get(id_digest)  # read before the logout...
            self.reading.set()
            await self.proceed.wait()  # ...returned after it
            return found

    store = SlowStore()
    bus = LocalRevocationBus()
    a, b = node(store, bus, clock), node(store, bus, clock)
    session = make_session(clock.now())
    await store.add(session)
    read = asyncio.create_task(b.get(session.id_digest))
    await store.reading.wait()
    await a.remove(session.id_digest)
    store.proceed.set()
    assert await read == session  # that read predates the logout; fine for that request
    store.proceed = asyncio.Event()
    store.proceed.set()
    assert await b.get(session.id_digest) is None  # but it was not kept


async def test_the_cache_is_bounded(shared: CountingStore, clock: FrozenClock) -> None:
    b = CachedSessionStore(shared, LocalRevocationBus(), clock, ttl=TTL, max_entries=3)
    sessions = [make_session(clock.now(), f"user-{i}") for i in range(5)]
    for session in sessions:
        await shared.add(session)
        await b.get(session.id_digest)
    assert len(b) == 3
    gets = shared.gets
    await b.get(sessions[-1].id_digest)
    assert shared.gets == gets
    await b.get(sessions[0].id_digest)  # evicted first
    assert shared.gets == gets + 1


async def test_a_malformed_event_is_ignored(shared: CountingStore, clock: FrozenClock) -> None:
    """An event that names no session (bad hex, a token family's) raises nothing, ends
    nothing, and does not make the next reads of a kept session go to the store."""
    b = node(shared, LocalRevocationBus(), clock)
    session = make_session(clock.now())
    await b.add(session)
    b.hear(Revocation("session", "not-hex", clock.now(), clock.now()))
    b.hear(Revocation("family", "f1", clock.now(), clock.now()))
    assert await b.get(session.id_digest) == session
    assert len(b) == 1 and shared.gets == 0  # still answered from memory
    assert await b.get(session.id_digest) == session
    assert shared.gets == 0


async def test_two_workers_agree_through_the_polled_table(
    sqlite_engine: AsyncEngine, clock: FrozenClock
) -> None:
    """Without Redis: a logout is refused on the other worker after its next poll."""
    shared = SqlSessionStore(sqlite_engine)
    bus_a, bus_b = SqlRevocationBus(sqlite_engine, clock), SqlRevocationBus(sqlite_engine, clock)
    await bus_b.resync()
    a, b = node(shared, bus_a, clock), node(shared, bus_b, clock)
    session = make_session(clock.now())
    await a.add(session)
    assert await b.get(session.id_digest) == session
    await a.remove(session.id_digest)
    assert await b.get(session.id_digest) == session  # not polled yet: within the bound
    await bus_b.sync()  # one AUTHWARD_REVOCATION_POLL_INTERVAL later
    assert await b.get(session.id_digest) is None
