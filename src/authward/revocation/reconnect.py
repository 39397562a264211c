"""The pushing buses' listener task: up for as long as the node runs, whatever the network does.

PostgreSQL's LISTEN and Redis's pub/sub each hold one connection of the node's own. When
it fails (the server restarted, a failover, a silent network), the listener connects
again, with pauses doubling from `RECONNECT_MIN` up to the bus's own ceiling, and starts
from the shortest pause again once it was up: a new outage is not punished for the last
one. What a connection does once up (subscribe, then read the record) is the bus's.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Final

from authward.background import stop

log = logging.getLogger(__name__)

RECONNECT_MIN: Final = 0.05  # seconds


class Reconnecting:
    """Runs `listen` in a task until `close`, running it again whenever it ends.

    `listen` calls `connected` once its connection is up; an exception of the `expected`
    kinds goes to `lost` (the bus decides how loudly to say it), any other is logged with
    its traceback, and neither ends the task.
    """

    def __init__(
        self,
        listen: Callable[[], Awaitable[None]],
        *,
        name: str,
        expected: tuple[type[BaseException], ...],
        lost: Callable[[BaseException], None],
        longest: float,
    ) -> None:
        self._listen = listen
        self._name = name
        self._expected = expected
        self._lost = lost
        self._longest = longest
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self.connects = 0  # connections that came up

    @property
    def closing(self) -> bool:
        """Whether `close` was called: `listen` returns when it sees this."""
        return self._closing

    def connected(self) -> None:
        """Called by `listen` when its connection is up: the next outage starts afresh."""
        self.connects += 1

    def start(self) -> None:
        """Start the task (idempotent)."""
        if self._task is None:
            self._closing = False
            self._task = asyncio.create_task(self._forever(), name=self._name)

    async def close(self) -> None:
        """Stop the task, in bounded time (`authward.background.stop`)."""
        task, self._task = self._task, None
        self._closing = True
        if task is not None:
            await stop([task])

    async def _forever(self) -> None:
        delay = RECONNECT_MIN
        while not self._closing:
            connects = self.connects
            try:
                await self._listen()
            except asyncio.CancelledError:
                raise
            except self._expected as exc:
                self._lost(exc)
            except Exception:  # the listener must outlive any one bad round
                log.exception("%s failed, reconnecting", self._name)
            if self.connects != connects:
                delay = RECONNECT_MIN  # it was up: this is a new outage
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._longest)
