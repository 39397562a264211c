"""When to try a mail again: exponential backoff, capped, jittered, for at least a day.

Attempt n (counting from 1) that failed waits ``first × 2^(n-1)``, at most ``cap``, times
a random factor in [½, 1] ("equal jitter"): senders that failed together (the SMTP
server went down under all of them) do not come back together. A mail gives up only
when an attempt fails at or after ``horizon`` from its queueing, so it is tried again
for at least that long: 30 s, 1, 2, 4, … minutes, then hourly, about 30 attempts in 24 h.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final

_RANDOM: Final = random.SystemRandom()


def _equal_jitter() -> float:
    return _RANDOM.uniform(0.5, 1.0)


@dataclass(frozen=True, slots=True)
class Backoff:
    first: timedelta = timedelta(seconds=30)
    cap: timedelta = timedelta(hours=1)
    horizon: timedelta = timedelta(hours=24)
    jitter: Callable[[], float] = field(default=_equal_jitter, repr=False)

    def delay(self, attempts: int) -> timedelta:
        """How long to wait after the `attempts`-th attempt failed."""
        # min() before the power grows out of range: 2^40 × 30 s overflows a timedelta.
        doubling = min(max(attempts - 1, 0), 32)
        return min(self.cap, self.first * (1 << doubling)) * self.jitter()

    def gives_up(self, created_at: datetime, failed_at: datetime) -> bool:
        """Whether an attempt that failed at `failed_at` was the last one."""
        return failed_at >= created_at + self.horizon
