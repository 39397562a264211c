"""The session rules on the reference store (no I/O): ids, CSRF, timeouts.

The per-user limit is checked on every store, in tests/contracts/test_session_limit.py.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from authward import crypto
from authward.clock import FrozenClock
from authward.errors import CsrfRejected, NotAuthenticated, NotFound, SessionExpired
from authward.ids import Device
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
