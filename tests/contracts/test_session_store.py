"""The SessionStore contract, run against every implementation (see conftest.py)."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import datetime, timedelta

from authward import crypto
from authward.clock import FrozenClock
from authward.ids import Device
from authward.sessions.models import Session
from authward.sessions.store import SessionStore

IDLE = timedelta(minutes=30)
ABSOLUTE = timedelta(hours=12)


def make_session(
    now: datetime,
    user_id: str = "alice",
    *,
    idle: timedelta = IDLE,
    absolute: timedelta = ABSOLUTE,
    device: Device | None = None,
) -> Session:
    return Session(
        id_digest=crypto.digest(crypto.new_token()),
        handle=crypto.new_handle(),
        user_id=user_id,
        created_at=now,
        last_seen_at=now,
        idle_expires_at=now + idle,
        absolute_expires_at=now + absolute,
        device=device or Device.of("Mozilla/5.0", "203.0.113.7"),
    )


async def test_add_then_get_returns_the_same_session(
    session_store: SessionStore, clock: FrozenClock
) -> None:
    clock.advance(timedelta(microseconds=123_457))  # timestamps round-trip to the microsecond
    session = make_session(clock.now(), device=Device.of("Navigateur “spécial” 🚀", "2001:db8::1"))
    await session_store.add(session)
    assert await session_store.get(session.id_digest) == session


async def test_only_the_digest_finds_a_session(
    session_store: SessionStore, clock: FrozenClock
) -> None:
    session_id = crypto.new_token()
    session = replace(make_session(clock.now()), id_digest=crypto.digest(session_id))
    await session_store.add(session)
    assert await session_store.get(session_id.encode()) is None
    assert await session_store.get(crypto.digest(crypto.new_token())) is None
    assert await session_store.get(crypto.digest(session_id)) == session


async def test_removed_session_stays_gone(session_store: SessionStore, clock: FrozenClock) -> None:
    session = make_session(clock.now())
    await session_store.add(session)
    assert await session_store.remove(session.id_digest)
    assert not await session_store.remove(session.id_digest)
    # A late request of the logged-out browser must not bring the session back.
    await session_store.touch(session.id_digest, clock.now(), clock.now() + IDLE)
    assert await session_store.get(session.id_digest) is None
    assert await session_store.list_user("alice") == []
    assert await session_store.count() == 0


async def test_touch_slides_the_idle_deadline_only(
    session_store: SessionStore, clock: FrozenClock
) -> None:
    session = make_session(clock.now())
    await session_store.add(session)
    clock.advance(timedelta(minutes=20))
    await session_store.touch(session.id_digest, clock.now(), clock.now() + IDLE)
    assert await session_store.get(session.id_digest) == replace(
        session, last_seen_at=clock.now(), idle_expires_at=clock.now() + IDLE
    )


async def test_touch_of_an_unknown_session_creates_nothing(
    session_store: SessionStore, clock: FrozenClock
) -> None:
    digest = crypto.digest(crypto.new_token())
    await session_store.touch(digest, clock.now(), clock.now() + IDLE)
    assert await session_store.get(digest) is None
    assert await session_store.count() == 0


async def test_remove_by_handle_ends_the_users_own_session(
    session_store: SessionStore, clock: FrozenClock
) -> None:
    mine, other = make_session(clock.now()), make_session(clock.now())
    await session_store.add(mine)
    await session_store.add(other)
    assert await session_store.remove_by_handle("alice", mine.handle)
    assert await session_store.get(mine.id_digest) is None
    assert await session_store.list_user("alice") == [other]
    assert not await session_store.remove_by_handle("alice", mine.handle)
    await session_store.touch(mine.id_digest, clock.now(), clock.now() + IDLE)
    assert await session_store.get(mine.id_digest) is None


async def test_remove_by_handle_refuses_another_users_session(
    session_store: SessionStore, clock: FrozenClock
) -> None:
    bobs = make_session(clock.now(), "bob")
    await session_store.add(bobs)
    await session_store.add(make_session(clock.now(), "alice"))
    assert not await session_store.remove_by_handle("alice", bobs.handle)
    assert not await session_store.remove_by_handle("alice", crypto.new_handle())
    assert await session_store.get(bobs.id_digest) == bobs


# What DELETE /auth/sessions/{id} may be sent (a NUL too, as %00): never anyone's handle.
STRANGE_HANDLES = ["a\x00b", "\x00", "x" * 2000, "é🚀", "' OR 1=1 --", "%", "*"]


async def test_a_handle_no_session_has_ends_nothing(
    session_store: SessionStore, clock: FrozenClock
) -> None:
    session = make_session(clock.now())
    await session_store.add(session)
    for handle in STRANGE_HANDLES:
        assert not await session_store.remove_by_handle("alice", handle), handle
    assert await session_store.list_user("alice") == [session]


async def test_remove_user_keeps_the_one_asked_for(
    session_store: SessionStore, clock: FrozenClock
) -> None:
    alices = [make_session(clock.now() + timedelta(seconds=i)) for i in range(3)]
    bobs = make_session(clock.now(), "bob")
    for session in [*alices, bobs]:
        await session_store.add(session)
    assert await session_store.remove_user("alice", keep=alices[1].id_digest) == 2
    assert await session_store.list_user("alice") == [alices[1]]
    assert await session_store.get(alices[0].id_digest) is None
    assert await session_store.list_user("bob") == [bobs]


async def test_remove_user_removes_every_session_of_the_user(
    session_store: SessionStore, clock: FrozenClock
) -> None:
    alices = [make_session(clock.now()) for _ in range(3)]
    for session in alices:
        await session_store.add(session)
    await session_store.add(make_session(clock.now(), "bob"))
    assert await session_store.remove_user("alice") == 3
    assert await session_store.remove_user("alice") == 0
    for session in alices:
        await session_store.touch(session.id_digest, clock.now(), clock.now() + IDLE)
        assert await session_store.get(session.id_digest) is None
    assert await session_store.list_user("alice") == []
    assert await session_store.count() == 1


async def test_list_user_is_oldest_first_and_only_theirs(
    session_store: SessionStore, clock: FrozenClock
) -> None:
    start = clock.now()
    alices = [make_session(start + timedelta(minutes=i)) for i in range(5)]
    shuffled = [*alices, make_session(start, "bob"), make_session(start, "carol")]
    random.shuffle(shuffled)
    for session in shuffled:
        await session_store.add(session)
    assert await session_store.list_user("alice") == alices
    assert await session_store.list_user("nobody") == []


async def test_sweep_removes_idle_and_absolute_expired_and_keeps_live(
    session_store: SessionStore, clock: FrozenClock
) -> None:
    start = clock.now()
    live = make_session(start)
    idle_expired = make_session(start, "bob", idle=timedelta(minutes=5))
    # Touched recently, so its idle deadline is ahead, but its absolute one has passed.
    absolute_expired = replace(
        make_session(start, "carol", absolute=timedelta(minutes=5)),
        idle_expires_at=start + timedelta(minutes=30),
    )
    due_right_now = make_session(start, "dave", idle=timedelta(minutes=10))  # now >= deadline
    for session in (live, idle_expired, absolute_expired, due_right_now):
        await session_store.add(session)

    clock.advance(timedelta(minutes=10))
    assert await session_store.sweep(clock.now()) == 3
    assert await session_store.get(live.id_digest) == live
    for gone in (idle_expired, absolute_expired, due_right_now):
        assert await session_store.get(gone.id_digest) is None
        assert await session_store.list_user(gone.user_id) == []
    assert await session_store.count() == 1
    assert await session_store.sweep(clock.now()) == 0


async def test_sweep_goes_on_until_every_expired_session_is_gone(
    session_store: SessionStore, clock: FrozenClock
) -> None:
    # Many more than one step's worth (the stores here sweep 3 at a time), of many users.
    start = clock.now()
    expired = [make_session(start, f"user-{i % 12}", idle=timedelta(minutes=5)) for i in range(30)]
    live = [make_session(start, f"user-{i}") for i in range(0, 12, 3)]
    for session in expired + live:
        await session_store.add(session)

    clock.advance(timedelta(minutes=10))
    assert await session_store.sweep(clock.now()) == len(expired)
    assert await session_store.count() == len(live)
    for i in range(12):
        assert await session_store.list_user(f"user-{i}") == [
            s for s in live if s.user_id == f"user-{i}"
        ]
    assert await session_store.sweep(clock.now()) == 0


async def test_sweep_keeps_a_session_touched_in_time(
    session_store: SessionStore, clock: FrozenClock
) -> None:
    session = make_session(clock.now())
    await session_store.add(session)
    clock.advance(IDLE - timedelta(seconds=1))
    await session_store.touch(session.id_digest, clock.now(), clock.now() + IDLE)
    clock.advance(timedelta(seconds=2))
    assert await session_store.sweep(clock.now()) == 0
    assert await session_store.get(session.id_digest) is not None


async def test_count_counts_every_users_sessions(
    session_store: SessionStore, clock: FrozenClock
) -> None:
    assert await session_store.count() == 0
    # Many users, so that on a cluster the sessions land on every node.
    for i in range(20):
        await session_store.add(make_session(clock.now(), f"user-{i}"))
    await session_store.add(make_session(clock.now(), "user-0"))
    assert await session_store.count() == 21
