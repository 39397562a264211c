"""How long background jobs share the machine with requests: in batches, resting between them.

A sweep of a million expired sessions is a minute of work for the store. Done in one go it
competes with every request for the CPU, the store and its locks, and request latency
suffers while it runs. Paced, it works on one batch, then rests in proportion to the time
that batch took, so it never holds more than `duty` of the time; a backlog takes longer to
clear, and requests do not notice. Expired sessions are refused on every read anyway, so
nothing but disk space waits for the sweep.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Pacing:
    """Work in batches of `batch` items, spending at most `duty` of the wall time working."""

    batch: int = 200
    duty: float = 0.25

    def __post_init__(self) -> None:
        if self.batch < 1 or not 0 < self.duty <= 1:
            raise ValueError("pacing needs a positive batch and a duty in (0, 1]")

    async def rest_after(self, worked_s: float) -> None:
        """Rest so that `worked_s` of work is `duty` of the time since it began."""
        if self.duty < 1:
            await asyncio.sleep(worked_s * (1 - self.duty) / self.duty)

    async def run(self, step: Callable[[int], Awaitable[int]]) -> int:
        """Call `step(batch)` until it handles fewer than `batch` items; return the total.

        A step that raises ends the run: what earlier steps did stays done.
        """
        total = 0
        while True:
            began = time.perf_counter()
            done = await step(self.batch)
            total += done
            if done < self.batch:
                return total
            await self.rest_after(time.perf_counter() - began)


DEFAULT_PACING = Pacing()  # what the settings default to
