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
