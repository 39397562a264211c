"""The FactorStore contract, run against every implementation (see conftest.py).

Three writes decide races, on one node or many: a TOTP step only moves forward (a code
is accepted once), a recovery code is spent once, a challenge is taken once. Each is
raced here: however many callers arrive at once, exactly one wins.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from authward import crypto
from authward.clock import FrozenClock
from authward.factors.models import Challenge, RecoveryCode, TotpFactor
from authward.factors.store import FactorStore

RACERS = 8


def pending(user_id: str, clock: FrozenClock, sealed: bytes = b"sealed-secret") -> TotpFactor:
    return TotpFactor(user_id, sealed, confirmed=False, last_step=-1, created_at=clock.now())


def codes(user_id: str, count: int = 3) -> list[RecoveryCode]:
    return [RecoveryCode(user_id, crypto.new_handle(), f"hash-{i}") for i in range(count)]


async def test_a_pending_secret_is_off_until_confirmed(
    factor_store: FactorStore, clock: FrozenClock
) -> None:
    assert await factor_store.get_totp("ada") is None
    assert await factor_store.put_pending_totp(pending("ada", clock))
    stored = await factor_store.get_totp("ada")
    assert stored == pending("ada", clock)
    assert not await factor_store.advance_step("ada", 100)  # not on yet: no code counts
    assert await factor_store.confirm_totp("ada", 100)
    stored = await factor_store.get_totp("ada")
    assert stored is not None and (stored.confirmed, stored.last_step) == (True, 100)


async def test_a_confirmed_secret_is_never_replaced_by_a_pending_one(
    factor_store: FactorStore, clock: FrozenClock
) -> None:
    assert await factor_store.put_pending_totp(pending("ada", clock, b"first"))
    assert await factor_store.put_pending_totp(pending("ada", clock, b"second"))  # replaces
    assert await factor_store.confirm_totp("ada", 7)
    assert not await factor_store.put_pending_totp(pending("ada", clock, b"attacker"))
    stored = await factor_store.get_totp("ada")
    assert stored is not None and stored.sealed_secret == b"second" and stored.confirmed
    assert not await factor_store.confirm_totp("ada", 8)  # confirmed once only


async def test_the_step_only_moves_forward(factor_store: FactorStore, clock: FrozenClock) -> None:
    await factor_store.put_pending_totp(pending("ada", clock))
    await factor_store.confirm_totp("ada", 10)
    assert not await factor_store.advance_step("ada", 10)  # the confirming code, again
    assert not await factor_store.advance_step("ada", 9)  # an older one
    assert await factor_store.advance_step("ada", 12)
    assert not await factor_store.advance_step("ada", 11)
    assert not await factor_store.advance_step("bob", 99)  # no factor at all


async def test_of_racing_advances_to_one_step_exactly_one_wins(
    factor_store: FactorStore, clock: FrozenClock
) -> None:
    await factor_store.put_pending_totp(pending("ada", clock))
    await factor_store.confirm_totp("ada", 10)
    results = await asyncio.gather(*(factor_store.advance_step("ada", 11) for _ in range(RACERS)))
    assert sorted(results) == [False] * (RACERS - 1) + [True]


async def test_removing_totp(factor_store: FactorStore, clock: FrozenClock) -> None:
    await factor_store.put_pending_totp(pending("ada", clock))
    assert await factor_store.remove_totp("ada")
    assert await factor_store.get_totp("ada") is None
    assert not await factor_store.remove_totp("ada")


async def test_a_new_set_of_codes_voids_the_old(factor_store: FactorStore) -> None:
    old, new = codes("ada"), codes("ada")
    await factor_store.replace_codes("ada", old)
    await factor_store.replace_codes("bob", codes("bob"))
    await factor_store.replace_codes("ada", new)
    assert {c.code_id for c in await factor_store.unused_codes("ada")} == {c.code_id for c in new}
    assert not await factor_store.spend_code("ada", old[0].code_id, FrozenClock().now())
    assert len(await factor_store.unused_codes("bob")) == 3


async def test_a_code_is_spent_once(factor_store: FactorStore, clock: FrozenClock) -> None:
    mine = codes("ada")
    await factor_store.replace_codes("ada", mine)
    assert not await factor_store.spend_code("bob", mine[0].code_id, clock.now())  # not bob's
    assert await factor_store.spend_code("ada", mine[0].code_id, clock.now())
    assert not await factor_store.spend_code("ada", mine[0].code_id, clock.now())
    left = {c.code_id for c in await factor_store.unused_codes("ada")}
    assert left == {c.code_id for c in mine[1:]}
    assert await factor_store.remove_codes("ada") == 3
    assert await factor_store.unused_codes("ada") == []


async def test_of_racing_spends_of_one_code_exactly_one_wins(
    factor_store: FactorStore, clock: FrozenClock
) -> None:
    mine = codes("ada")
    await factor_store.replace_codes("ada", mine)
    results = await asyncio.gather(
        *(factor_store.spend_code("ada", mine[1].code_id, clock.now()) for _ in range(RACERS))
    )
    assert sorted(results) == [False] * (RACERS - 1) + [True]
    assert len(await factor_store.unused_codes("ada")) == 2


def challenge(clock: FrozenClock, *, ttl: timedelta = timedelta(minutes=5)) -> Challenge:
    now = clock.now()
    return Challenge(crypto.digest(crypto.new_token()), "ada", "jwt", now, now + ttl)


async def test_a_challenge_is_taken_once(factor_store: FactorStore, clock: FrozenClock) -> None:
    first = challenge(clock)
    await factor_store.add_challenge(first)
    assert await factor_store.get_challenge(first.token_digest) == first
    results = await asyncio.gather(
        *(factor_store.take_challenge(first.token_digest) for _ in range(RACERS))
    )
    assert sorted(results) == [False] * (RACERS - 1) + [True]
    assert await factor_store.get_challenge(first.token_digest) is None


async def test_the_sweep_removes_expired_challenges_only(
    factor_store: FactorStore, clock: FrozenClock
) -> None:
    short, long = challenge(clock, ttl=timedelta(minutes=1)), challenge(clock)
    await factor_store.add_challenge(short)
    await factor_store.add_challenge(long)
    clock.advance(timedelta(minutes=1))
    assert await factor_store.sweep(clock.now()) == 1
    assert await factor_store.get_challenge(short.token_digest) is None
    assert await factor_store.get_challenge(long.token_digest) == long
