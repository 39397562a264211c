"""An attempt's reservation in a sliding window, and how the attempt settles it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import timedelta
from math import ceil

from authward.clock import Clock
from authward.errors import TooManyAttempts
from authward.metrics import THROTTLED
from authward.throttle.log import Entry, FailureLog, Limit


class Attempt:
    """One attempt's place in its counts, taken before the work and kept if it fails.

    A failure needs nothing: the entries already stand for it. `succeeded` and `abandoned`
    give them back (and a success also clears the keys the throttle resets on success).
    """

    __slots__ = ("_clear_on_success", "_held", "_log")

    def __init__(
        self, log: FailureLog, held: tuple[Entry, ...], clear_on_success: tuple[bytes, ...] = ()
    ) -> None:
        self._log = log
        self._held = held
        self._clear_on_success = clear_on_success

    async def succeeded(self) -> None:
        await self._give_back(self._clear_on_success)

    async def abandoned(self) -> None:
        """The attempt ended before it was judged (a store did not answer): count nothing."""
        await self._give_back(())

    async def _give_back(self, clear: tuple[bytes, ...]) -> None:
        held, self._held = self._held, ()
        if held or clear:
            await self._log.release(held, clear)


@asynccontextmanager
async def judged(attempt: Attempt, failure: type[BaseException]) -> AsyncIterator[None]:
    """Settle `attempt` by how the block ends: `failure` keeps it counted, success gives it
    back, and any other error (a store down, a cancelled request) gives it back too."""
    try:
        yield
    except failure:
        raise
    except BaseException:
        await attempt.abandoned()
        raise
    await attempt.succeeded()


class SlidingWindow:
    """Reservations under opaque keys over one sliding window."""

    def __init__(self, log: FailureLog, window: timedelta, clock: Clock) -> None:
        self.log = log
        self.window = window
        self._clock = clock

    async def reserve(self, action: str, limits: Sequence[Limit]) -> tuple[Entry, ...]:
        """Hold one entry under every key; raise TooManyAttempts (with the wait) at a ceiling."""
        now = self._clock.now()
        # An entry counts for exactly `window`: from its instant up to, not including,
        # instant + window (the logs keep microseconds, so `since` starts one later).
        since = now - self.window + timedelta(microseconds=1)
        admission = await self.log.reserve(limits, now, since)
        if admission.blocked_by is not None:
            THROTTLED.labels(action).inc()
            # The window slides: the wait ends when enough old entries age out.
            wait = (admission.blocked_by + self.window - now).total_seconds()
            raise TooManyAttempts(max(1, ceil(wait)))
        return admission.held

    async def prune(self) -> int:
        return await self.log.prune(self._clock.now() - self.window)
