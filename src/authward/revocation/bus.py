"""How revocations reach every node: the RevocationBus port and its in-process version.

A node's `RevocationList` subscribes to the bus; whatever any node publishes must reach
every subscriber within the bus's propagation bound, and stay retrievable by `resync`
until its `until`, so that a node starting later still learns of it. The SQL bus
(`authward.revocation.sql`) polls a table, which PostgreSQL's LISTEN/NOTIFY
(`authward.revocation.postgres`) or Unix datagrams between the processes of one machine
(`authward.revocation.samehost`) push; Redis pub/sub (`authward.revocation.redis`) is
one more implementation.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from authward.revocation.list import Revocation

Deliver = Callable[[Revocation], None]


class RevocationBus(Protocol):
    """Carries revocations between the nodes of a deployment."""

    async def publish(self, revocation: Revocation) -> None:
        """Record it and deliver it everywhere: to this node's subscribers before returning."""

    def subscribe(self, deliver: Deliver) -> None:
        """Call `deliver` (on the event loop, without awaiting) for every revocation."""

    async def resync(self) -> list[Revocation]:
        """Every revocation still in force: what a node starting now must know."""

    async def sync(self) -> None:
        """Deliver what other nodes published since the last call.

        Called every ``AUTHWARD_REVOCATION_POLL_INTERVAL``; a push-based bus may have
        nothing to do. Raises StoreUnavailable when the bus cannot be reached.
        """

    async def sweep(self, now: datetime) -> int:
        """Forget revocations whose `until` has passed; return how many."""

    def start(self) -> None:
        """Start whatever delivers other nodes' revocations unasked (idempotent).

        A server starts it; a short-lived CLI process, which only publishes, does not. A
        polled bus has nothing to start: `sync` is its delivery.
        """

    async def close(self) -> None:
        """Stop what `start` started; the connection or engine is the caller's."""

    def staleness(self, poll_interval: float) -> float:
        """How long, in seconds, a revocation published on another node may go unheard
        here while the bus answers, given the ``AUTHWARD_REVOCATION_POLL_INTERVAL``."""


class LocalRevocationBus:
    """One process, no peers: the reference bus and the embedded default's."""

    def __init__(self) -> None:
        self._subscribers: list[Deliver] = []
        self._revocations: list[Revocation] = []

    async def publish(self, revocation: Revocation) -> None:
        self._revocations.append(revocation)
        for deliver in self._subscribers:
            deliver(revocation)

    def subscribe(self, deliver: Deliver) -> None:
        self._subscribers.append(deliver)

    async def resync(self) -> list[Revocation]:
        return list(self._revocations)

    async def sync(self) -> None:
        return None

    async def sweep(self, now: datetime) -> int:
        before = len(self._revocations)
        self._revocations = [r for r in self._revocations if r.until > now]
        return before - len(self._revocations)

    def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    def staleness(self, poll_interval: float) -> float:
        return 0.0  # no other node: every publish is delivered before it returns
