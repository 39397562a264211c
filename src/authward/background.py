"""Stopping background tasks (polls, sweeps, the Redis subscriber) for good, and in bounded time.

A plain ``task.cancel(); await task`` can hang for ever on Python 3.11: `asyncio.wait_for`
there may swallow a cancellation that races the inner operation's completion (fixed in
3.12, gh-86296), and redis-py wraps its socket writes in it. A task caught that way
carries on, or waits on an inner task that will never finish, and the shutdown with it.
`stop` therefore cancels again until the task is done, and gives up after `STOP_WITHIN`
seconds rather than hold a server's shutdown hostage.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Final

log = logging.getLogger(__name__)

STOP_WITHIN: Final = 5.0  # seconds
_RETRY_EVERY: Final = 0.1  # seconds


async def stop(tasks: Iterable[asyncio.Task[None]]) -> None:
    """Cancel `tasks` and wait until each is done, cancelling again while one is not."""
    everyone = list(tasks)
    pending = {task for task in everyone if not task.done()}
    for _ in range(round(STOP_WITHIN / _RETRY_EVERY)):
        if not pending:
            break
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=_RETRY_EVERY)
    for task in everyone:
        if not task.done():
            log.warning("background task %s did not stop", task.get_name())
        elif not task.cancelled() and (exc := task.exception()) is not None:
            log.warning("background task %s had failed: %r", task.get_name(), exc)
