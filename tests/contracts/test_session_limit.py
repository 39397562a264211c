"""The per-user session limit holds on every store, logins racing included."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from authward.clock import FrozenClock
from authward.ids import Device
from authward.sessions.service import SessionPolicy, SessionService
from authward.sessions.store import SessionStore

LIMIT = 3
POLICY = SessionPolicy(
    idle_ttl=timedelta(minutes=30), absolute_ttl=timedelta(hours=12), max_per_user=LIMIT
)


def service_on(store: SessionStore, clock: FrozenClock) -> SessionService:
    return SessionService(store, POLICY, clock, csrf_key=b"k" * 32)


async def test_logins_one_after_another_keep_the_newest(
    session_store: SessionStore, clock: FrozenClock
) -> None:
    sessions = service_on(session_store, clock)
    started = []
    for _ in range(LIMIT + 2):
        started.append(await sessions.start("alice", Device()))
        clock.advance(1)
    live = {s.handle for s in await sessions.list_live("alice")}
    assert live == {s.session.handle for s in started[-LIMIT:]}


async def test_racing_logins_never_leave_more_than_the_limit(
    session_store: SessionStore, clock: FrozenClock
) -> None:
    # Every login lists the user's sessions while the others are still adding theirs: a
    # check made before the add would let all of them in.
    sessions = service_on(session_store, clock)
    await asyncio.gather(*(sessions.start("alice", Device()) for _ in range(3 * LIMIT)))
    assert len(await session_store.list_user("alice")) == LIMIT
    other = await sessions.start("bob", Device())
    assert [s.handle for s in await session_store.list_user("bob")] == [other.session.handle]
