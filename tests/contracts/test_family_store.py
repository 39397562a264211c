"""The FamilyStore contract, run against every implementation (see conftest.py).

Above all: a rotation is a compare-and-swap. Of rotations racing with one token exactly
one wins, and the token it spent is found as spent from then on (what makes a second
presentation of it a reuse).
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import replace
from datetime import datetime, timedelta

from authward import crypto
from authward.clock import FrozenClock
from authward.ids import Device
from authward.tokens.models import Family
from authward.tokens.store import FamilyStore, TokenLookup
from tests.contracts.test_session_store import STRANGE_HANDLES

TTL = timedelta(days=14)
HOME = Device.of("Navigateur “spécial” 🚀", "2001:db8::1")
PHONE = Device.of("Phone/2.0", "198.51.100.4")


def make_family(now: datetime, user_id: str = "alice", *, ttl: timedelta = TTL) -> Family:
    return Family(
        id=crypto.new_handle(),
        user_id=user_id,
        created_at=now,
        expires_at=now + ttl,
        last_seen_at=now,
        device=HOME,
    )


def new_digest() -> bytes:
    return crypto.digest(crypto.new_token())


async def started(store: FamilyStore, family: Family) -> bytes:
    """Add `family` with a first token; return that token's digest."""
    digest = new_digest()
    await store.add(family, digest)
    return digest


async def test_add_then_find_the_current_token(
    family_store: FamilyStore, clock: FrozenClock
) -> None:
    clock.advance(timedelta(microseconds=987_654))  # timestamps round-trip to the microsecond
    family = make_family(clock.now())
    digest = await started(family_store, family)
    assert await family_store.find(digest) == TokenLookup(family)
    assert await family_store.find(new_digest()) is None


async def test_rotate_spends_the_old_token_and_makes_the_new_one_current(
    family_store: FamilyStore, clock: FrozenClock
) -> None:
    family = make_family(clock.now())
    first = await started(family_store, family)
    clock.advance(timedelta(minutes=5))
    second = new_digest()
    assert await family_store.rotate(family.id, first, second, clock.now(), PHONE)
    # Seen now, from the new device; its lifetime does not slide.
    rotated = replace(family, last_seen_at=clock.now(), device=PHONE)
    assert await family_store.find(second) == TokenLookup(rotated)
    assert await family_store.find(first) == TokenLookup(rotated, clock.now(), previous=True)
    spent_at = clock.now()
    clock.advance(timedelta(minutes=5))
    third = new_digest()
    assert await family_store.rotate(family.id, second, third, clock.now(), HOME)
    again = replace(family, last_seen_at=clock.now(), device=HOME)
    # Only the token the latest rotation spent is `previous`.
    assert await family_store.find(first) == TokenLookup(again, spent_at, previous=False)
    assert await family_store.find(second) == TokenLookup(again, clock.now(), previous=True)
    assert await family_store.find(third) == TokenLookup(again)


async def test_only_the_current_token_of_a_live_family_rotates(
    family_store: FamilyStore, clock: FrozenClock
) -> None:
    family = make_family(clock.now())
    first = await started(family_store, family)
    second = new_digest()
    assert await family_store.rotate(family.id, first, second, clock.now(), HOME)
    lookups = await family_store.find(first), await family_store.find(second)
    # A spent token, an unknown one, and the current one under another family's id.
    other = make_family(clock.now())
    await started(family_store, other)
    assert not await family_store.rotate(family.id, first, new_digest(), clock.now(), PHONE)
    assert not await family_store.rotate(family.id, new_digest(), new_digest(), clock.now(), PHONE)
    assert not await family_store.rotate(other.id, second, new_digest(), clock.now(), PHONE)
    assert not await family_store.rotate("no-such-family", second, new_digest(), clock.now(), HOME)
    assert (await family_store.find(first), await family_store.find(second)) == lookups


async def test_a_revoked_or_expired_family_no_longer_rotates(
    family_store: FamilyStore, clock: FrozenClock
) -> None:
    revoked, expiring = make_family(clock.now()), make_family(clock.now(), ttl=timedelta(hours=1))
    revoked_digest = await started(family_store, revoked)
    expiring_digest = await started(family_store, expiring)
    assert await family_store.revoke(revoked.id, clock.now())
    assert not await family_store.rotate(
        revoked.id, revoked_digest, new_digest(), clock.now(), HOME
    )
    clock.advance(timedelta(hours=1))  # expires_at itself: no longer live
    assert not await family_store.rotate(
        expiring.id, expiring_digest, new_digest(), clock.now(), HOME
    )
    assert await family_store.find(expiring_digest) == TokenLookup(expiring)  # found, unspent


async def test_of_rotations_racing_with_one_token_exactly_one_wins(
    family_store: FamilyStore, clock: FrozenClock
) -> None:
    family = make_family(clock.now())
    spent = await started(family_store, family)
    clock.advance(timedelta(minutes=1))
    candidates = [new_digest() for _ in range(8)]
    answers = await asyncio.gather(
        *(family_store.rotate(family.id, spent, new, clock.now(), PHONE) for new in candidates)
    )
    assert answers.count(True) == 1
    winner = candidates[answers.index(True)]
    found = await family_store.find(spent)
    assert found is not None and found.spent_at == clock.now()  # presented again: reuse
    current = await family_store.find(winner)
    assert current is not None and current.spent_at is None
    for loser in candidates:
        if loser != winner:
            assert await family_store.find(loser) is None


async def test_revoke_ends_a_live_family_once(
    family_store: FamilyStore, clock: FrozenClock
) -> None:
    family = make_family(clock.now())
    digest = await started(family_store, family)
    clock.advance(timedelta(minutes=1))
    assert await family_store.revoke(family.id, clock.now())
    revoked = replace(family, revoked_at=clock.now())
    assert await family_store.find(digest) == TokenLookup(revoked)  # still found, revoked
    clock.advance(timedelta(minutes=1))
    assert not await family_store.revoke(family.id, clock.now())  # the first time stands
    assert await family_store.list_user("alice") == [revoked]
    assert not await family_store.revoke("no-such-family", clock.now())


async def test_revoke_for_a_user_refuses_another_users_family(
    family_store: FamilyStore, clock: FrozenClock
) -> None:
    bobs = make_family(clock.now(), "bob")
    await started(family_store, bobs)
    assert not await family_store.revoke(bobs.id, clock.now(), user_id="alice")
    assert await family_store.list_user("bob") == [bobs]
    assert await family_store.revoke(bobs.id, clock.now(), user_id="bob")
    assert await family_store.list_user("bob") == [replace(bobs, revoked_at=clock.now())]


async def test_an_id_no_family_has_revokes_nothing(
    family_store: FamilyStore, clock: FrozenClock
) -> None:
    family = make_family(clock.now())
    await started(family_store, family)
    for family_id in STRANGE_HANDLES:
        assert not await family_store.revoke(family_id, clock.now(), user_id="alice"), family_id
        assert not await family_store.revoke(family_id, clock.now()), family_id
    assert await family_store.list_user("alice") == [family]


async def test_revoke_of_an_expired_family_changes_nothing(
    family_store: FamilyStore, clock: FrozenClock
) -> None:
    family = make_family(clock.now(), ttl=timedelta(hours=1))
    await started(family_store, family)
    clock.advance(timedelta(hours=2))
    assert not await family_store.revoke(family.id, clock.now())
    assert await family_store.list_user("alice") == [family]


async def test_revoke_user_revokes_every_live_family_but_the_one_kept(
    family_store: FamilyStore, clock: FrozenClock
) -> None:
    start = clock.now()
    live = [make_family(start + timedelta(seconds=i)) for i in range(4)]
    already = make_family(start)
    expired = make_family(start, ttl=timedelta(minutes=1))
    bobs = make_family(start, "bob")
    for family in [*live, already, expired, bobs]:
        await started(family_store, family)
    assert await family_store.revoke(already.id, start)
    clock.advance(timedelta(minutes=1))
    revoked = await family_store.revoke_user("alice", clock.now(), keep=live[2].id)
    assert sorted(revoked) == sorted(f.id for f in (live[0], live[1], live[3]))
    assert await family_store.revoke_user("alice", clock.now(), keep=live[2].id) == []
    at = clock.now()
    assert sorted(await family_store.list_user("alice"), key=lambda f: f.id) == sorted(
        [
            replace(live[0], revoked_at=at),
            replace(live[1], revoked_at=at),
            live[2],
            replace(live[3], revoked_at=at),
            replace(already, revoked_at=start),  # its own revocation stands
            expired,
        ],
        key=lambda f: f.id,
    )
    assert await family_store.list_user("bob") == [bobs]
    assert await family_store.revoke_user("alice", clock.now()) == [live[2].id]


async def test_list_user_is_oldest_first_revoked_and_expired_included(
    family_store: FamilyStore, clock: FrozenClock
) -> None:
    start = clock.now()
    alices = [make_family(start + timedelta(minutes=i), ttl=timedelta(hours=1)) for i in range(4)]
    # Two started in the same microsecond: their ids break the tie.
    alices += [make_family(start + timedelta(minutes=2), ttl=timedelta(hours=1)) for _ in range(2)]
    shuffled = [*alices, make_family(start, "bob"), make_family(start, "carol")]
    random.shuffle(shuffled)
    for family in shuffled:
        await started(family_store, family)
    assert await family_store.revoke(alices[0].id, start)
    clock.advance(timedelta(days=1))  # every one of alice's has expired
    expected = sorted(alices, key=lambda f: (f.created_at, f.id))
    expected = [replace(f, revoked_at=start) if f.id == alices[0].id else f for f in expected]
    assert await family_store.list_user("alice") == expected
    assert await family_store.list_user("nobody") == []


async def test_sweep_drops_expired_and_revoked_families_with_their_spent_tokens(
    family_store: FamilyStore, clock: FrozenClock
) -> None:
    start = clock.now()
    live = make_family(start)
    revoked = make_family(start)
    expired = make_family(start, "bob", ttl=timedelta(minutes=10))  # expires_at == now: gone
    tokens: dict[str, list[bytes]] = {}
    for family in (live, revoked, expired):
        tokens[family.id] = [await started(family_store, family)]
        for _ in range(2):  # each with spent tokens
            tokens[family.id].append(new_digest())
            old, new = tokens[family.id][-2:]
            assert await family_store.rotate(family.id, old, new, start, HOME)
    assert await family_store.revoke(revoked.id, start)
    clock.advance(timedelta(minutes=10))
    assert await family_store.sweep(clock.now()) == 2
    for family in (revoked, expired):
        for digest in tokens[family.id]:
            assert await family_store.find(digest) is None
        assert not await family_store.revoke(family.id, clock.now())
    assert await family_store.list_user("bob") == []
    assert [f.id for f in await family_store.list_user("alice")] == [live.id]
    for digest in tokens[live.id]:
        assert await family_store.find(digest) is not None
    assert await family_store.sweep(clock.now()) == 0


async def test_many_families_many_rotations_each_find_their_own(
    family_store: FamilyStore, clock: FrozenClock
) -> None:
    # Rotations of different families at once do not get in each other's way.
    families = [make_family(clock.now(), f"user-{i % 3}") for i in range(9)]
    firsts = [await started(family_store, family) for family in families]
    seconds = [new_digest() for _ in families]
    answers = await asyncio.gather(
        *(
            family_store.rotate(family.id, first, second, clock.now(), PHONE)
            for family, first, second in zip(families, firsts, seconds, strict=True)
        )
    )
    assert all(answers)
    for family, second in zip(families, seconds, strict=True):
        found = await family_store.find(second)
        assert found is not None and found.family.id == family.id and found.spent_at is None


async def test_remove_user_drops_that_users_families_and_their_tokens_only(
    family_store: FamilyStore, clock: FrozenClock
) -> None:
    start = clock.now()
    alices = [make_family(start), make_family(start)]
    bobs = make_family(start, "bob")
    tokens = {f.id: await started(family_store, f) for f in (*alices, bobs)}
    spent = tokens[alices[0].id]
    tokens[alices[0].id] = new_digest()
    assert await family_store.rotate(alices[0].id, spent, tokens[alices[0].id], start, HOME)
    assert await family_store.revoke(alices[1].id, start)  # revoked ones go too
    assert await family_store.remove_user("alice") == 2
    assert await family_store.list_user("alice") == []
    for digest in (spent, tokens[alices[0].id], tokens[alices[1].id]):
        assert await family_store.find(digest) is None
    assert await family_store.find(tokens[bobs.id]) == TokenLookup(bobs)
    assert await family_store.remove_user("alice") == 0
