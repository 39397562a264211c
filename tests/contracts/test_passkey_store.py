"""The PasskeyStore contract, run against memory, SQLite and PostgreSQL.

Two writes decide races on one node or many: a challenge is taken once, and a
signature counter moves only from the value it was checked against. Each is raced.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import replace
from datetime import timedelta

import pytest

from authward import crypto
from authward.clock import FrozenClock
from authward.errors import TooManyPasskeys
from authward.factors.models import Passkey, PasskeyChallenge
from authward.factors.passkey_store import PasskeyStore

RACERS = 8
LIMIT = 3  # passkeys per user


def passkey(user_id: str, clock: FrozenClock, name: str = "Laptop", count: int = 0) -> Passkey:
    return Passkey(
        id=crypto.new_handle(),
        user_id=user_id,
        credential_id=os.urandom(32),
        public_key=b"cose-key",
        sign_count=count,
        name=name,
        transports=("internal", "hybrid"),
        backup_eligible=True,
        backed_up=False,
        created_at=clock.now(),
    )


def challenge(clock: FrozenClock, user_id: str | None = None) -> PasskeyChallenge:
    purpose = "register" if user_id else "authenticate"
    return PasskeyChallenge(os.urandom(32), purpose, user_id, clock.now() + timedelta(minutes=5))


async def test_passkeys_are_kept_listed_per_user_and_found_by_credential(
    passkey_store: PasskeyStore, clock: FrozenClock
) -> None:
    first = passkey("ada", clock, "Laptop")
    clock.advance(1)
    second = passkey("ada", clock, "Phone")
    other = passkey("bob", clock)
    for p in (first, second, other):
        assert await passkey_store.add(p, limit=LIMIT)
    assert await passkey_store.of_user("ada") == [first, second]
    assert await passkey_store.by_credential(second.credential_id) == second
    assert await passkey_store.by_credential(os.urandom(32)) is None


async def test_a_credential_id_is_registered_once(
    passkey_store: PasskeyStore, clock: FrozenClock
) -> None:
    first = passkey("ada", clock)
    assert await passkey_store.add(first, limit=LIMIT)
    again = replace(passkey("bob", clock), credential_id=first.credential_id)
    assert not await passkey_store.add(again, limit=LIMIT)
    assert await passkey_store.of_user("bob") == []


async def test_a_user_holds_at_most_the_limit_and_a_removal_makes_room(
    passkey_store: PasskeyStore, clock: FrozenClock
) -> None:
    for n in range(LIMIT):
        assert await passkey_store.add(passkey("ada", clock, f"Key {n}"), limit=LIMIT)
    extra = passkey("ada", clock, "One too many")
    with pytest.raises(TooManyPasskeys):
        await passkey_store.add(extra, limit=LIMIT)
    assert await passkey_store.by_credential(extra.credential_id) is None
    assert await passkey_store.add(passkey("bob", clock), limit=LIMIT)  # per user
    first = (await passkey_store.of_user("ada"))[0]
    assert await passkey_store.remove("ada", first.id)
    assert await passkey_store.add(extra, limit=LIMIT)
    assert len(await passkey_store.of_user("ada")) == LIMIT


async def test_registrations_racing_at_the_limit_less_one_keep_exactly_one(
    passkey_store: PasskeyStore, clock: FrozenClock
) -> None:
    # Each racer counts the user's passkeys while the others are adding theirs: a count
    # made apart from the add would let every one of them in. A few rounds, one user
    # each: a round whose racers happen to run one after another proves nothing.
    for user in ("ada", "bob", "cy"):
        for n in range(LIMIT - 1):
            await passkey_store.add(passkey(user, clock, f"Key {n}"), limit=LIMIT)
        # A connection per racer first (a pool's), so that the racers start together.
        await asyncio.gather(*(passkey_store.of_user(user) for _ in range(RACERS)))
        racers = [passkey(user, clock, f"Racer {n}") for n in range(RACERS)]
        results = await asyncio.gather(
            *(passkey_store.add(p, limit=LIMIT) for p in racers), return_exceptions=True
        )
        assert results.count(True) == 1, results
        assert all(isinstance(r, TooManyPasskeys) for r in results if r is not True), results
        assert len(await passkey_store.of_user(user)) == LIMIT


async def test_one_user_cannot_remove_anothers_passkey(
    passkey_store: PasskeyStore, clock: FrozenClock
) -> None:
    ada = passkey("ada", clock)
    await passkey_store.add(ada, limit=LIMIT)
    assert not await passkey_store.remove("bob", ada.id)
    assert await passkey_store.of_user("ada") == [ada]
    assert await passkey_store.remove("ada", ada.id)
    assert not await passkey_store.remove("ada", ada.id)
    assert await passkey_store.of_user("ada") == []


async def test_the_counter_moves_only_from_the_value_it_was_checked_against(
    passkey_store: PasskeyStore, clock: FrozenClock
) -> None:
    ada = passkey("ada", clock, count=5)
    await passkey_store.add(ada, limit=LIMIT)
    results = await asyncio.gather(
        *(passkey_store.record_use(ada.id, 5, 6 + i, True, clock.now()) for i in range(RACERS))
    )
    assert sorted(results) == [False] * (RACERS - 1) + [True]
    stored = await passkey_store.by_credential(ada.credential_id)
    assert stored is not None and stored.sign_count > 5 and stored.backed_up
    assert stored.last_used_at == clock.now()
    assert not await passkey_store.record_use(ada.id, 5, 99, True, clock.now())


async def test_a_counter_of_zero_stays_usable(
    passkey_store: PasskeyStore, clock: FrozenClock
) -> None:
    ada = passkey("ada", clock, count=0)
    await passkey_store.add(ada, limit=LIMIT)
    assert await passkey_store.record_use(ada.id, 0, 0, False, clock.now())
    assert await passkey_store.record_use(ada.id, 0, 0, False, clock.now())


async def test_a_challenge_is_taken_exactly_once(
    passkey_store: PasskeyStore, clock: FrozenClock
) -> None:
    issued = challenge(clock, "ada")
    await passkey_store.add_challenge(issued)
    results = await asyncio.gather(
        *(passkey_store.take_challenge(issued.digest) for _ in range(RACERS))
    )
    assert [r for r in results if r is not None] == [issued]
    assert await passkey_store.take_challenge(issued.digest) is None


async def test_the_sweep_removes_expired_challenges_only(
    passkey_store: PasskeyStore, clock: FrozenClock
) -> None:
    old = challenge(clock)
    await passkey_store.add_challenge(old)
    clock.advance(timedelta(minutes=3))
    young = challenge(clock)
    await passkey_store.add_challenge(young)
    clock.advance(timedelta(minutes=2))
    assert await passkey_store.sweep(clock.now()) == 1
    assert await passkey_store.take_challenge(old.digest) is None
    assert await passkey_store.take_challenge(young.digest) == young
