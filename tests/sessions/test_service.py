"""The session rules on the reference store (no I/O): ids, CSRF, timeouts.

The per-user limit is checked on every store, in tests/contracts/test_session_limit.py.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import pytest

from authward import crypto
from authward.clock import FrozenClock
from authward.errors import (
    CsrfRejected,
    NotAuthenticated,
    NotFound,
    SessionExpired,
    StoreUnavailable,
)
from authward.ids import Device
from authward.sessions.models import Session
from authward.sessions.service import SessionPolicy, SessionService
from authward.sessions.store import MemorySessionStore

POLICY = SessionPolicy(
    idle_ttl=timedelta(minutes=30), absolute_ttl=timedelta(hours=12), max_per_user=3
)


@pytest.fixture
def service(clock: FrozenClock) -> SessionService:
    return SessionService(MemorySessionStore(), POLICY, clock, csrf_key=b"k" * 32)


async def test_ids_are_fresh_and_stored_by_digest(service: SessionService) -> None:
    started = [await service.start("u1", Device()) for _ in range(50)]
    ids = {s.session_id for s in started}
    assert len(ids) == 50
    for s in started:
        assert s.session.id_digest == crypto.digest(s.session_id)
        assert s.session.handle != s.session_id


async def test_csrf_token_is_bound_to_the_session(service: SessionService) -> None:
    a = await service.start("u1", Device())
    b = await service.start("u1", Device())
    service.check_csrf(a.session_id, a.csrf_token)
    with pytest.raises(CsrfRejected):
        service.check_csrf(a.session_id, b.csrf_token)
    with pytest.raises(CsrfRejected):
        service.check_csrf(a.session_id, None)


async def test_touch_is_written_at_most_once_per_interval(
    service: SessionService, clock: FrozenClock
) -> None:
    started = await service.start("u1", Device())
    clock.advance(POLICY.touch_interval / 2)
    assert (await service.resume(started.session_id)).last_seen_at == started.session.created_at
    clock.advance(POLICY.touch_interval)
    await service.resume(started.session_id)
    stored = await service.store.get(started.session.id_digest)
    assert stored is not None and stored.last_seen_at == clock.now()


async def test_expired_session_is_removed_on_read(
    service: SessionService, clock: FrozenClock
) -> None:
    started = await service.start("u1", Device())
    clock.advance(POLICY.idle_ttl)
    with pytest.raises(SessionExpired):
        await service.resume(started.session_id)
    assert await service.store.count() == 0
    with pytest.raises(NotAuthenticated):
        await service.resume(started.session_id)


async def test_activity_never_outlives_the_absolute_deadline(
    service: SessionService, clock: FrozenClock
) -> None:
    started = await service.start("u1", Device())
    while clock.now() + POLICY.idle_ttl / 2 < started.session.absolute_expires_at:
        clock.advance(POLICY.idle_ttl / 2)
        session = await service.resume(started.session_id)
        assert session.idle_expires_at <= session.absolute_expires_at
    clock.set(started.session.absolute_expires_at)
    with pytest.raises(SessionExpired):
        await service.resume(started.session_id)


async def test_end_by_handle_checks_the_owner(service: SessionService) -> None:
    started = await service.start("u1", Device())
    with pytest.raises(NotFound):
        await service.end_by_handle("u2", started.session.handle)
    await service.end_by_handle("u1", started.session.handle)
    assert await service.store.count() == 0


class GatedTouches(MemorySessionStore):
    """The reference store, whose touches wait for `opened` and are counted."""

    def __init__(self) -> None:
        super().__init__()
        self.opened = asyncio.Event()
        self.touches = 0
        self.fail: Exception | None = None

    async def touch(self, id_digest: bytes, seen_at: datetime, idle_expires_at: datetime) -> None:
        self.touches += 1
        await self.opened.wait()
        if self.fail is not None:
            raise self.fail
        await super().touch(id_digest, seen_at, idle_expires_at)


async def _due_at_once(
    service: SessionService, session_id: str, n: int
) -> list[asyncio.Task[Session]]:
    """`n` requests that all find the slide due before any write is done."""
    resumes = [asyncio.create_task(service.resume(session_id)) for _ in range(n)]
    # The reference store reads without suspending: one pass of the loop takes each
    # request to the write (the first one's, under way, for all the others).
    await asyncio.sleep(0)
    assert all(_waiting_on_the_write(task) for task in resumes)
    return resumes


def _waiting_on_the_write(task: asyncio.Task[Session]) -> bool:
    """Whether the request is done or suspended in `_slide` (walking what it awaits)."""
    awaited: Any = task.get_coro()
    while awaited is not None and not task.done():
        if getattr(awaited, "cr_code", None) is not None and awaited.cr_code.co_name == "_slide":
            return True
        awaited = getattr(awaited, "cr_await", None)
    return task.done()


async def test_requests_that_find_a_slide_due_at_once_share_one_write(
    clock: FrozenClock,
) -> None:
    store = GatedTouches()
    service = SessionService(store, POLICY, clock, csrf_key=b"k" * 32)
    started = await service.start("u1", Device())
    clock.advance(POLICY.touch_interval)
    resumes = await _due_at_once(service, started.session_id, 20)
    store.opened.set()
    await asyncio.gather(*resumes)
    assert store.touches == 1
    stored = await store.get(started.session.id_digest)
    assert stored is not None and stored.last_seen_at == clock.now()


async def test_a_shared_slide_that_fails_fails_each_request_and_the_next_writes_again(
    clock: FrozenClock,
) -> None:
    store = GatedTouches()
    service = SessionService(store, POLICY, clock, csrf_key=b"k" * 32)
    started = await service.start("u1", Device())
    clock.advance(POLICY.touch_interval)
    store.fail = StoreUnavailable("database")
    resumes = await _due_at_once(service, started.session_id, 5)
    store.opened.set()
    outcomes = await asyncio.gather(*resumes, return_exceptions=True)
    assert all(isinstance(outcome, StoreUnavailable) for outcome in outcomes)
    assert store.touches == 1
    store.fail = None
    await service.resume(started.session_id)
    assert store.touches == 2
    stored = await store.get(started.session.id_digest)
    assert stored is not None and stored.last_seen_at == clock.now()


async def test_a_request_that_gives_up_leaves_the_shared_slide_to_the_others(
    clock: FrozenClock,
) -> None:
    store = GatedTouches()
    service = SessionService(store, POLICY, clock, csrf_key=b"k" * 32)
    started = await service.start("u1", Device())
    clock.advance(POLICY.touch_interval)
    first, *others = await _due_at_once(service, started.session_id, 3)
    first.cancel()
    store.opened.set()
    await asyncio.gather(*others)
    assert first.cancelled() and store.touches == 1
    stored = await store.get(started.session.id_digest)
    assert stored is not None and stored.last_seen_at == clock.now()
