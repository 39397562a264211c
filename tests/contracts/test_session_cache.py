"""The session cache's own answers, `kept` and `held`, agree with its store on every backend.

They are the part of `CachedSessionStore` outside the SessionStore protocol (which
test_session_store.py runs on the cache too): a request they answer never reaches the
store, so neither may answer what the store would not, nor outlive an end.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from authward import crypto
from authward.clock import FrozenClock
from authward.revocation.list import Revocation
from authward.sessions.cache import CachedSessionStore
from authward.sessions.models import Session
from tests.contracts.conftest import CACHE_TTL
from tests.contracts.test_session_store import IDLE, make_session


async def found_live(
    cache: CachedSessionStore, clock: FrozenClock, user_id: str = "alice", **deadlines: timedelta
) -> tuple[str, Session]:
    """Start a session and look it up as a request does; return its id and the session."""
    session_id = crypto.new_token()
    session = replace(
        make_session(clock.now(), user_id, **deadlines), id_digest=crypto.digest(session_id)
    )
    await cache.add(session)
    assert await cache.get(session.id_digest) == session
    cache.remember(session_id, session.id_digest)
    return session_id, session


async def test_held_and_kept_answer_the_session_the_store_holds(
    session_cache: CachedSessionStore, clock: FrozenClock
) -> None:
    session_id, session = await found_live(session_cache, clock)
    assert await session_cache.store.get(session.id_digest) == session
    assert session_cache.kept(session.id_digest, clock.now()) == session
    assert session_cache.held(session_id, clock.now()) == session
    assert session_cache.held(crypto.new_token(), clock.now()) is None


async def test_held_follows_a_touch(session_cache: CachedSessionStore, clock: FrozenClock) -> None:
    session_id, session = await found_live(session_cache, clock)
    clock.advance(timedelta(seconds=1))
    await session_cache.touch(session.id_digest, clock.now(), clock.now() + IDLE)
    slid = replace(session, last_seen_at=clock.now(), idle_expires_at=clock.now() + IDLE)
    assert await session_cache.store.get(session.id_digest) == slid
    assert session_cache.held(session_id, clock.now()) == slid


async def test_no_way_of_ending_a_session_leaves_it_held(
    session_cache: CachedSessionStore, clock: FrozenClock
) -> None:
    ways = {
        "remove": lambda s: session_cache.remove(s.id_digest),
        "remove_by_handle": lambda s: session_cache.remove_by_handle(s.user_id, s.handle),
        "remove_user": lambda s: session_cache.remove_user(s.user_id),
    }
    bobs_id, bobs = await found_live(session_cache, clock, "bob")
    for way, end in ways.items():
        session_id, session = await found_live(session_cache, clock)
        assert await end(session), way
        assert session_cache.held(session_id, clock.now()) is None, way
        assert session_cache.kept(session.id_digest, clock.now()) is None, way
        assert await session_cache.get(session.id_digest) is None, way
    assert session_cache.held(bobs_id, clock.now()) == bobs  # another user's stays


async def test_an_end_heard_from_another_node_is_no_longer_held(
    session_cache: CachedSessionStore, clock: FrozenClock
) -> None:
    one_id, one = await found_live(session_cache, clock)
    two_id, _ = await found_live(session_cache, clock)
    bobs_id, bobs = await found_live(session_cache, clock, "bob")
    until = clock.now() + CACHE_TTL
    session_cache.hear(Revocation("session", one.id_digest.hex(), clock.now(), until))
    assert session_cache.held(one_id, clock.now()) is None
    assert session_cache.held(two_id, clock.now()) is not None
    session_cache.hear(Revocation("sessions", "alice", clock.now(), until))
    assert session_cache.held(two_id, clock.now()) is None
    assert session_cache.held(bobs_id, clock.now()) == bobs


async def test_held_never_answers_past_a_deadline_or_the_cache_ttl(
    session_cache: CachedSessionStore, clock: FrozenClock
) -> None:
    idle = CACHE_TTL / 2
    short_id, short = await found_live(session_cache, clock, idle=idle)
    long_id, long = await found_live(session_cache, clock)
    clock.advance(idle)  # the short one's idle deadline: expired, whatever the cache TTL
    assert session_cache.held(short_id, clock.now()) is None
    assert session_cache.kept(short.id_digest, clock.now()) is None
    assert session_cache.held(long_id, clock.now()) == long
    clock.advance(CACHE_TTL - idle)  # the long one's copy is now as old as the cache allows
    assert session_cache.held(long_id, clock.now()) is None
    assert session_cache.kept(long.id_digest, clock.now()) is None
    assert await session_cache.get(long.id_digest) == long  # the store still has it


async def test_the_node_that_steps_up_holds_the_new_auth_time_at_once(
    session_cache: CachedSessionStore, clock: FrozenClock
) -> None:
    session_id, session = await found_live(session_cache, clock)
    clock.advance(CACHE_TTL / 2)
    now = clock.now()
    assert session_cache.held(session_id, now) == session  # the old copy is still fresh
    moved = await session_cache.reauthenticate(session.id_digest, session.user_id, now)
    assert moved is not None and moved.auth_time == now
    # No wait for the cache TTL: this node's copy is the new record already.
    assert session_cache.held(session_id, now) == moved
    assert session_cache.kept(session.id_digest, now) == moved


async def test_a_refused_step_up_leaves_no_copy_behind(
    session_cache: CachedSessionStore, clock: FrozenClock
) -> None:
    session_id, session = await found_live(session_cache, clock)
    await session_cache.store.remove(session.id_digest)  # ended where this node did not hear
    assert await session_cache.reauthenticate(session.id_digest, "alice", clock.now()) is None
    assert session_cache.held(session_id, clock.now()) is None
