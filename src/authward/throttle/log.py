"""What every store of attempt counts keeps: the FailureLog protocol and its answers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

# One entry a log holds for an attempt: its key, and its id under that key.
Entry = tuple[bytes, str]
# A key and its ceiling, in the order a log should try them (see `LoginThrottle`).
Limit = tuple[bytes, int]


@dataclass(frozen=True, slots=True)
class Admission:
    """A log's answer to a reservation: the entries it now holds, or why it holds none.

    Refused, `blocked_by` is the time of the entry that has to leave the window before the
    full key has room again (the ceiling-th newest); admitted, it is None.
    """

    held: tuple[Entry, ...] = ()
    blocked_by: datetime | None = None


class FailureLog(Protocol):
    """Entries under opaque keys, added only while each key is under its ceiling.

    `reserve` is the one operation that must hold under concurrency, on every node: for
    each key it counts the entries at or after `since` and adds one at `at` only when the
    count is under the key's ceiling, in one step no other reservation of that key can
    interleave with. A refused reservation leaves nothing held under any of its keys (an
    implementation that works key by key gives back what it took, in the given order).
    """

    async def reserve(
        self, limits: Sequence[Limit], at: datetime, since: datetime
    ) -> Admission: ...

    async def release(self, entries: Sequence[Entry], clear: Sequence[bytes] = ()) -> None:
        """Drop these entries, and every entry under the keys in `clear`."""

    async def recent(self, key: bytes, since: datetime) -> list[datetime]:
        """Entries under `key` at or after `since`, oldest first."""

    async def prune(self, before: datetime) -> int: ...
