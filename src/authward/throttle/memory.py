"""The FailureLog in one process's memory: for tests, and an app that runs in one process.

`reserve` has no ``await`` between the count and the add, so one event loop cannot
split them.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Sequence
from datetime import datetime

from authward.throttle.log import Admission, Entry, Limit


class MemoryFailureLog:
    """One process's log: for tests, and an app that runs in a single process."""

    def __init__(self) -> None:
        self._log: dict[bytes, deque[tuple[datetime, str]]] = {}
        self._ids = itertools.count()

    async def reserve(self, limits: Sequence[Limit], at: datetime, since: datetime) -> Admission:
        for key, ceiling in limits:
            entries = self._recent(key, since)
            if len(entries) >= ceiling:
                return Admission(blocked_by=entries[len(entries) - ceiling][0])
        held = []
        for key, _ in limits:
            entry = str(next(self._ids))
            self._log.setdefault(key, deque()).append((at, entry))
            held.append((key, entry))
        return Admission(held=tuple(held))

    async def release(self, entries: Sequence[Entry], clear: Sequence[bytes] = ()) -> None:
        for key, entry in entries:
            kept = deque(item for item in self._log.get(key, ()) if item[1] != entry)
            self._log[key] = kept
        for key in clear:
            self._log.pop(key, None)

    async def recent(self, key: bytes, since: datetime) -> list[datetime]:
        return [at for at, _ in self._recent(key, since)]

    async def prune(self, before: datetime) -> int:
        removed = 0
        for key in list(self._log):
            entries = self._log[key]
            while entries and entries[0][0] < before:
                entries.popleft()
                removed += 1
            if not entries:
                del self._log[key]
        return removed

    def _recent(self, key: bytes, since: datetime) -> list[tuple[datetime, str]]:
        entries = self._log.get(key)
        if not entries:
            return []
        while entries and entries[0][0] < since:
            entries.popleft()
        return list(entries)
