"""The FailureLog contract, run against every implementation (see conftest.py).

Above all: a reservation is atomic. However many arrive at once, no key ever holds more
entries than its ceiling, and a refused reservation holds nothing anywhere.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from authward.clock import FrozenClock
from authward.errors import TooManyAttempts
from authward.throttle.keys import account_key, address_key, pair_key
from authward.throttle.log import FailureLog
from authward.throttle.policy import ThrottlePolicy
from authward.throttle.throttles import LoginThrottle

ACCOUNT = account_key("alice@example.com")
PAIR = pair_key("alice@example.com", "203.0.113.7")
ADDRESS = address_key("login", "203.0.113.7")
HOUR = timedelta(hours=1)


async def test_an_admitted_reservation_holds_one_entry_under_each_key(
    failure_log: FailureLog, clock: FrozenClock
) -> None:
    admission = await failure_log.reserve(((PAIR, 5), (ACCOUNT, 50)), clock.now(), clock.now())
    assert admission.blocked_by is None
    assert [key for key, _ in admission.held] == [PAIR, ACCOUNT]
    assert await failure_log.recent(PAIR, clock.now()) == [clock.now()]
    assert await failure_log.recent(ACCOUNT, clock.now()) == [clock.now()]


async def test_recent_is_oldest_first_from_since_on(
    failure_log: FailureLog, clock: FrozenClock
) -> None:
    start = clock.now()
    times = [start + timedelta(minutes=m) for m in (0, 1, 2)]
    for at in times:
        await failure_log.reserve(((ACCOUNT, 10),), at, start)
    assert await failure_log.recent(ACCOUNT, start) == times
    assert await failure_log.recent(ACCOUNT, times[1]) == times[1:]  # `since` counts
    assert await failure_log.recent(ACCOUNT, times[2] + timedelta(microseconds=1)) == []


async def test_at_the_ceiling_nothing_is_added_under_any_key(
    failure_log: FailureLog, clock: FrozenClock
) -> None:
    start = clock.now()
    for minute in range(3):
        await failure_log.reserve(((PAIR, 3),), start + timedelta(minutes=minute), start)
    later = start + timedelta(minutes=5)
    # ACCOUNT comes first and has room: a refusal at PAIR must take its entry back.
    admission = await failure_log.reserve(((ACCOUNT, 50), (PAIR, 3)), later, start)
    assert admission.held == ()
    assert admission.blocked_by == start  # the ceiling-th newest: the one to age out
    assert await failure_log.recent(ACCOUNT, start) == []
    assert len(await failure_log.recent(PAIR, start)) == 3


async def test_entries_before_since_do_not_count(
    failure_log: FailureLog, clock: FrozenClock
) -> None:
    start = clock.now()
    await failure_log.reserve(((PAIR, 1),), start, start)
    later = start + timedelta(minutes=15)
    admission = await failure_log.reserve(((PAIR, 1),), later, start + timedelta(microseconds=1))
    assert admission.blocked_by is None


async def test_entries_at_the_same_instant_all_count(
    failure_log: FailureLog, clock: FrozenClock
) -> None:
    for _ in range(3):
        await failure_log.reserve(((ACCOUNT, 10),), clock.now(), clock.now())
    assert await failure_log.recent(ACCOUNT, clock.now()) == [clock.now()] * 3


async def test_release_drops_exactly_those_entries_and_clears_whole_keys(
    failure_log: FailureLog, clock: FrozenClock
) -> None:
    first = await failure_log.reserve(((PAIR, 5), (ACCOUNT, 50)), clock.now(), clock.now())
    second = await failure_log.reserve(((PAIR, 5), (ACCOUNT, 50)), clock.now(), clock.now())
    await failure_log.release([entry for entry in second.held if entry[0] == ACCOUNT])
    assert len(await failure_log.recent(ACCOUNT, clock.now())) == 1
    assert len(await failure_log.recent(PAIR, clock.now())) == 2
    await failure_log.release(first.held, clear=[PAIR])
    assert await failure_log.recent(PAIR, clock.now()) == []
    assert await failure_log.recent(ACCOUNT, clock.now()) == []
    await failure_log.release(first.held, clear=[PAIR])  # releasing nothing is fine


async def test_unknown_key_has_no_entries(failure_log: FailureLog, clock: FrozenClock) -> None:
    assert await failure_log.recent(ACCOUNT, clock.now() - HOUR) == []


async def test_prune_drops_entries_before_the_cutoff_under_every_key(
    failure_log: FailureLog, clock: FrozenClock
) -> None:
    start = clock.now()
    await failure_log.reserve(((PAIR, 9), (ACCOUNT, 9)), start, start)
    await failure_log.reserve(((ACCOUNT, 9),), start + timedelta(minutes=1), start)
    await failure_log.reserve(((ACCOUNT, 9),), start + timedelta(minutes=2), start)
    assert await failure_log.prune(start + timedelta(minutes=1)) == 2
    assert await failure_log.recent(PAIR, start) == []
    assert await failure_log.recent(ACCOUNT, start) == [
        start + timedelta(minutes=1),
        start + timedelta(minutes=2),
    ]
    assert await failure_log.prune(start + timedelta(minutes=1)) == 0


async def test_concurrent_reservations_never_pass_the_ceiling(
    failure_log: FailureLog, clock: FrozenClock
) -> None:
    limits = ((PAIR, 5), (ADDRESS, 100), (ACCOUNT, 50))
    answers = await asyncio.gather(
        *(failure_log.reserve(limits, clock.now(), clock.now()) for _ in range(30))
    )
    admitted = [answer for answer in answers if answer.blocked_by is None]
    assert len(admitted) == 5
    # The refused 25 left nothing behind, under the keys they had room in either.
    for key in (PAIR, ADDRESS, ACCOUNT):
        assert len(await failure_log.recent(key, clock.now())) == 5


async def test_concurrent_reservations_of_many_pairs_share_one_account_ceiling(
    failure_log: FailureLog, clock: FrozenClock
) -> None:
    """Many addresses, one account: the shared key is what must hold."""

    def limits(n: int) -> tuple[tuple[bytes, int], ...]:
        return ((pair_key("alice@example.com", f"198.51.100.{n}"), 5), (ACCOUNT, 7))

    answers = await asyncio.gather(
        *(failure_log.reserve(limits(n), clock.now(), clock.now()) for n in range(20))
    )
    assert sum(answer.blocked_by is None for answer in answers) == 7
    assert len(await failure_log.recent(ACCOUNT, clock.now())) == 7


async def test_throttle_refuses_at_the_limit_and_a_success_resets_the_pair(
    failure_log: FailureLog, clock: FrozenClock
) -> None:
    policy = ThrottlePolicy(max_failures=3, account_max_failures=30, window=timedelta(minutes=15))
    throttle = LoginThrottle(failure_log, policy, clock)
    for _ in range(3):
        await throttle.attempt("alice@example.com", "203.0.113.7")  # each one failed
        clock.advance(timedelta(minutes=1))
    with pytest.raises(TooManyAttempts) as refused:
        await throttle.attempt("alice@example.com", "203.0.113.7")
    # The window slides: the oldest failure, 3 minutes ago, ages out in 12 minutes.
    assert refused.value.retry_after == 12 * 60
    elsewhere = await throttle.attempt("alice@example.com", "198.51.100.1")
    await elsewhere.succeeded()  # a success elsewhere clears its own pair only
    with pytest.raises(TooManyAttempts):
        await throttle.attempt("alice@example.com", "203.0.113.7")
    clock.advance(timedelta(minutes=12))
    attempt = await throttle.attempt("alice@example.com", "203.0.113.7")
    await attempt.succeeded()  # clears the pair: the next ones start from zero
    for _ in range(3):
        await throttle.attempt("alice@example.com", "203.0.113.7")
    # The account count kept every failure still in the window (2 + 3), no success.
    since = clock.now() - policy.window + timedelta(microseconds=1)
    assert len(await failure_log.recent(account_key("alice@example.com"), since)) == 5


async def test_an_abandoned_attempt_counts_nothing(
    failure_log: FailureLog, clock: FrozenClock
) -> None:
    policy = ThrottlePolicy(max_failures=1, account_max_failures=10, window=timedelta(minutes=15))
    throttle = LoginThrottle(failure_log, policy, clock)
    for _ in range(3):
        attempt = await throttle.attempt("alice@example.com", "203.0.113.7")
        await attempt.abandoned()
    assert await failure_log.recent(account_key("alice@example.com"), clock.now() - HOUR) == []
