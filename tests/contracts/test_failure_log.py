"""The FailureLog contract, run against every implementation (see conftest.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from authward.accounts.throttle import (
    FailureLog,
    LoginThrottle,
    ThrottlePolicy,
    account_key,
    pair_key,
)
from authward.clock import FrozenClock
from authward.errors import TooManyAttempts

ACCOUNT = account_key("alice@example.com")
PAIR = pair_key("alice@example.com", "203.0.113.7")


async def test_recent_is_oldest_first_from_since_on(
    failure_log: FailureLog, clock: FrozenClock
) -> None:
    start = clock.now()
    times = [start + timedelta(minutes=m) for m in (0, 1, 2)]
    for at in times:
        await failure_log.record((ACCOUNT,), at)
    assert await failure_log.recent(ACCOUNT, start) == times
    assert await failure_log.recent(ACCOUNT, times[1]) == times[1:]  # `since` counts
    assert await failure_log.recent(ACCOUNT, times[2] + timedelta(microseconds=1)) == []


async def test_one_failure_counts_under_each_key(
    failure_log: FailureLog, clock: FrozenClock
) -> None:
    await failure_log.record((PAIR, ACCOUNT), clock.now())
    assert await failure_log.recent(PAIR, clock.now()) == [clock.now()]
    assert await failure_log.recent(ACCOUNT, clock.now()) == [clock.now()]


async def test_failures_at_the_same_instant_all_count(
    failure_log: FailureLog, clock: FrozenClock
) -> None:
    for _ in range(3):
        await failure_log.record((ACCOUNT,), clock.now())
    assert await failure_log.recent(ACCOUNT, clock.now()) == [clock.now()] * 3


async def test_unknown_key_has_no_failures(failure_log: FailureLog, clock: FrozenClock) -> None:
    assert await failure_log.recent(ACCOUNT, clock.now() - timedelta(hours=1)) == []


async def test_clear_forgets_only_that_key(failure_log: FailureLog, clock: FrozenClock) -> None:
    await failure_log.record((PAIR, ACCOUNT), clock.now())
    await failure_log.clear(PAIR)
    await failure_log.clear(PAIR)  # clearing nothing is fine
    assert await failure_log.recent(PAIR, clock.now()) == []
    assert await failure_log.recent(ACCOUNT, clock.now()) == [clock.now()]


async def test_prune_drops_failures_before_the_cutoff_under_every_key(
    failure_log: FailureLog, clock: FrozenClock
) -> None:
    start = clock.now()
    await failure_log.record((PAIR, ACCOUNT), start)
    await failure_log.record((ACCOUNT,), start + timedelta(minutes=1))
    await failure_log.record((ACCOUNT,), start + timedelta(minutes=2))
    assert await failure_log.prune(start + timedelta(minutes=1)) == 2
    assert await failure_log.recent(PAIR, start) == []
    assert await failure_log.recent(ACCOUNT, start) == [
        start + timedelta(minutes=1),
        start + timedelta(minutes=2),
    ]
    assert await failure_log.prune(start + timedelta(minutes=1)) == 0


async def test_throttle_refuses_at_the_limit_and_a_success_resets_the_pair(
    failure_log: FailureLog, clock: FrozenClock
) -> None:
    policy = ThrottlePolicy(max_failures=3, account_max_failures=30, window=timedelta(minutes=15))
    throttle = LoginThrottle(failure_log, policy, clock)
    for _ in range(3):
        await throttle.check("alice@example.com", "203.0.113.7")
        await throttle.failed("alice@example.com", "203.0.113.7")
        clock.advance(timedelta(minutes=1))
    with pytest.raises(TooManyAttempts) as refused:
        await throttle.check("alice@example.com", "203.0.113.7")
    # The window slides: the oldest failure, 3 minutes ago, ages out in 12 minutes.
    assert refused.value.retry_after == 12 * 60
    await throttle.check("alice@example.com", "198.51.100.1")  # another address may try
    await throttle.succeeded("alice@example.com", "203.0.113.7")
    await throttle.check("alice@example.com", "203.0.113.7")
