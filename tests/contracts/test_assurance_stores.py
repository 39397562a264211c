"""Sessions and token families keep how their login authenticated, on every backend.

A refresh must keep the login's ``auth_time`` and ``amr`` (the access tokens of a
family carry them), and a session must show them on every request: each store hands
back exactly what it was given.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from authward.clock import FrozenClock
from authward.sessions.store import SessionStore
from authward.tokens.store import FamilyStore
from tests.contracts.test_family_store import make_family, new_digest
from tests.contracts.test_session_store import make_session

SECOND_FACTOR = ("pwd", "otp")


async def test_a_session_keeps_its_login_assurance(
    session_store: SessionStore, clock: FrozenClock
) -> None:
    login_at = clock.now() - timedelta(seconds=42)
    session = replace(make_session(clock.now()), auth_time=login_at, amr=SECOND_FACTOR)
    await session_store.add(session)
    stored = await session_store.get(session.id_digest)
    assert stored is not None
    assert (stored.auth_time, stored.amr, stored.assurance.acr) == (login_at, SECOND_FACTOR, "aal2")


async def test_a_session_from_before_the_columns_counts_as_a_password_login(
    session_store: SessionStore, clock: FrozenClock
) -> None:
    session = make_session(clock.now())  # auth_time None, amr ("pwd",): the defaults
    await session_store.add(session)
    stored = await session_store.get(session.id_digest)
    assert stored is not None
    assert stored.assurance.auth_time == session.created_at
    assert (stored.amr, stored.assurance.acr) == (("pwd",), "aal1")


async def test_a_family_keeps_its_login_assurance_across_rotations(
    family_store: FamilyStore, clock: FrozenClock
) -> None:
    family = replace(make_family(clock.now()), auth_time=clock.now(), amr=("pwd", "rc"))
    first = new_digest()
    await family_store.add(family, first)
    clock.advance(timedelta(minutes=3))
    second = new_digest()
    assert await family_store.rotate(family.id, first, second, clock.now(), family.device)
    found = await family_store.find(second)
    assert found is not None
    assert (found.family.auth_time, found.family.amr) == (family.auth_time, ("pwd", "rc"))


async def test_a_step_up_moves_the_auth_time_of_the_users_live_family_only(
    family_store: FamilyStore, clock: FrozenClock
) -> None:
    family = replace(make_family(clock.now()), auth_time=clock.now(), amr=SECOND_FACTOR)
    digest = new_digest()
    await family_store.add(family, digest)
    clock.advance(timedelta(minutes=10))
    now = clock.now()
    # Another user's id moves nothing: a caller names only their own family.
    assert await family_store.reauthenticate(family.id, "someone-else", now) is None
    moved = await family_store.reauthenticate(family.id, family.user_id, now)
    assert moved is not None
    assert (moved.auth_time, moved.amr, moved.expires_at) == (now, SECOND_FACTOR, family.expires_at)
    found = await family_store.find(digest)
    assert found is not None and found.family.auth_time == now
    # A revoked family is no login to refresh.
    assert await family_store.revoke(family.id, now)
    assert await family_store.reauthenticate(family.id, family.user_id, now) is None


async def test_a_step_up_moves_the_auth_time_of_the_users_live_session_only(
    session_store: SessionStore, clock: FrozenClock
) -> None:
    login_at = clock.now()
    session = replace(make_session(login_at), auth_time=login_at, amr=SECOND_FACTOR)
    await session_store.add(session)
    clock.advance(timedelta(minutes=10))
    now = clock.now()
    # Another user's id moves nothing: a caller names only their own session.
    assert await session_store.reauthenticate(session.id_digest, "someone-else", now) is None
    unmoved = await session_store.get(session.id_digest)
    assert unmoved is not None and unmoved.auth_time == login_at
    moved = await session_store.reauthenticate(session.id_digest, session.user_id, now)
    assert moved == replace(session, auth_time=now)
    assert await session_store.get(session.id_digest) == moved
    # Its methods and deadlines stay: a step-up extends nothing.
    assert (moved.amr, moved.assurance.acr) == (SECOND_FACTOR, "aal2")


async def test_a_step_up_never_revives_an_ended_or_expired_session(
    session_store: SessionStore, clock: FrozenClock
) -> None:
    ended = make_session(clock.now())
    await session_store.add(ended)
    assert await session_store.remove(ended.id_digest)
    assert await session_store.reauthenticate(ended.id_digest, ended.user_id, clock.now()) is None
    assert await session_store.get(ended.id_digest) is None
    # Past its idle deadline (still stored, till swept or dropped by Redis): refused.
    expired = make_session(clock.now(), idle=timedelta(seconds=30))
    await session_store.add(expired)
    at = expired.idle_expires_at
    assert await session_store.reauthenticate(expired.id_digest, expired.user_id, at) is None
    kept = await session_store.get(expired.id_digest)
    assert kept is None or kept.auth_time is None


async def test_a_step_up_can_rotate_the_familys_token_as_a_refresh_does(
    family_store: FamilyStore, clock: FrozenClock
) -> None:
    family = replace(make_family(clock.now()), auth_time=clock.now())
    held = new_digest()
    await family_store.add(family, held)
    clock.advance(timedelta(minutes=10))
    now, fresh = clock.now(), new_digest()
    moved = await family_store.reauthenticate(
        family.id, family.user_id, now, rotate_to=(fresh, family.device)
    )
    assert moved is not None and moved.auth_time == now
    current = await family_store.find(fresh)
    assert current is not None and current.spent_at is None
    # The token the client held is spent by the same write: its return is reuse.
    spent = await family_store.find(held)
    assert spent is not None
    assert (spent.spent_at, spent.previous) == (now, True)
    # The spent one cannot be rotated any more.
    assert not await family_store.rotate(family.id, held, new_digest(), now, family.device)
