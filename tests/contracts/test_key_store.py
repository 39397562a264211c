"""The KeyStore contract, run against every implementation (see conftest.py).

A key's generation is unique and settles races: of processes adding "the next" key at
once, exactly one does, and it retires every older key in the same step.
"""

from __future__ import annotations

import asyncio
import secrets
from datetime import datetime, timedelta

from authward.clock import FrozenClock
from authward.tokens.store import KeyStore, StoredKey


def make_key(generation: int, created_at: datetime, *, alg: str = "EdDSA") -> StoredKey:
    kid = secrets.token_urlsafe(32)
    return StoredKey(
        kid=kid,
        alg=alg,
        generation=generation,
        created_at=created_at,
        retired_at=None,
        public_jwk=f'{{"kty":"OKP","crv":"Ed25519","kid":"{kid}","x":"ü"}}',
        sealed_private=secrets.token_bytes(80) + b"\x00",  # any bytes, NUL included
    )


def retired(key: StoredKey, at: datetime) -> StoredKey:
    """`key` as the store keeps it once a newer one came at `at`: its private half wiped."""
    return StoredKey(
        key.kid, key.alg, key.generation, key.created_at, at, key.public_jwk, sealed_private=None
    )


async def test_an_empty_store_loads_nothing(key_store: KeyStore) -> None:
    assert await key_store.load() == []


async def test_the_first_key_is_added_and_loaded_whole(
    key_store: KeyStore, clock: FrozenClock
) -> None:
    clock.advance(timedelta(microseconds=250_001))  # timestamps round-trip to the microsecond
    key = make_key(1, clock.now())
    assert await key_store.add(key)
    [loaded] = await key_store.load()
    assert loaded == key
    assert loaded.sealed_private == key.sealed_private  # repr hides it; compare it anyway


async def test_a_new_key_retires_every_older_one_and_wipes_its_private_half(
    key_store: KeyStore, clock: FrozenClock
) -> None:
    first = make_key(1, clock.now())
    assert await key_store.add(first)
    clock.advance(timedelta(hours=1))
    second = make_key(2, clock.now())
    assert await key_store.add(second)
    clock.advance(timedelta(hours=1))
    third = make_key(3, clock.now(), alg="ES256")
    assert await key_store.add(third)
    assert await key_store.load() == [
        retired(first, second.created_at),  # retired once, by the key that replaced it
        retired(second, third.created_at),
        third,
    ]


async def test_a_taken_generation_is_refused_and_changes_nothing(
    key_store: KeyStore, clock: FrozenClock
) -> None:
    first, second = make_key(1, clock.now()), make_key(2, clock.now() + timedelta(minutes=1))
    assert await key_store.add(first)
    assert await key_store.add(second)
    before = await key_store.load()
    clock.advance(timedelta(hours=1))
    for generation in (1, 2):
        assert not await key_store.add(make_key(generation, clock.now()))
    assert await key_store.load() == before  # the active key was not retired either


async def test_of_keys_racing_for_one_generation_exactly_one_is_added(
    key_store: KeyStore, clock: FrozenClock
) -> None:
    first = make_key(1, clock.now())
    await key_store.add(first)
    clock.advance(timedelta(hours=1))
    rivals = [make_key(2, clock.now()) for _ in range(5)]
    answers = await asyncio.gather(*(key_store.add(key) for key in rivals))
    assert answers.count(True) == 1
    winner = rivals[answers.index(True)]
    assert await key_store.load() == [retired(first, clock.now()), winner]


async def test_remove_retired_drops_keys_retired_at_or_before_the_cutoff_only(
    key_store: KeyStore, clock: FrozenClock
) -> None:
    start = clock.now()
    keys = [make_key(g, start + timedelta(hours=g)) for g in range(1, 5)]
    for key in keys:
        await key_store.add(key)
    # Retired at hours 2, 3 and 4; the fourth is active.
    assert await key_store.remove_retired(start + timedelta(hours=3)) == 2  # 3 itself goes
    assert await key_store.load() == [retired(keys[2], keys[3].created_at), keys[3]]
    assert await key_store.remove_retired(start + timedelta(hours=3)) == 0
    # However late the cutoff, the active key stays.
    assert await key_store.remove_retired(start + timedelta(days=365)) == 1
    assert await key_store.load() == [keys[3]]


async def test_after_a_sweep_the_next_generation_replaces_the_active_key(
    key_store: KeyStore, clock: FrozenClock
) -> None:
    first, second = make_key(1, clock.now()), make_key(2, clock.now() + timedelta(minutes=1))
    await key_store.add(first)
    await key_store.add(second)
    await key_store.remove_retired(clock.now() + timedelta(days=1))
    assert [key.generation for key in await key_store.load()] == [2]
    third = make_key(3, clock.now() + timedelta(minutes=2))
    assert await key_store.add(third)
    assert await key_store.load() == [retired(second, third.created_at), third]
