"""The RevocationBus contract, run against every implementation (see conftest.py).

A node is a bus of its own; nodes of one deployment share its store (a table, a Redis or
a Redis Cluster). What one publishes reaches its own subscribers before `publish`
returns, and every other node within the bus's propagation bound: at its next `sync` at
the latest, which a waiting node here calls in a loop. The bus promises no order and may
deliver twice; a node's `RevocationList` makes that harmless, so where the backends may
differ (the Redis bus merges revocations of one subject) the tests ask the list.

The waits are for network I/O (a message crossing Redis), bounded and polled; time that
matters to the logic comes from the FrozenClock.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta

from authward import crypto
from authward.clock import FrozenClock
from authward.revocation.bus import RevocationBus
from authward.revocation.list import Revocation, RevocationKind, RevocationList
from tests.contracts.conftest import NewBus

ARRIVAL = 10.0  # seconds: far past any propagation bound, only reached when a test fails


def revocation(
    kind: RevocationKind, subject: str, at: datetime, ttl: timedelta = timedelta(minutes=5)
) -> Revocation:
    return Revocation(kind, subject, at, at + ttl)


def heard_by(bus: RevocationBus) -> list[Revocation]:
    heard: list[Revocation] = []
    bus.subscribe(heard.append)
    return heard


async def arrive(sent: list[Revocation], node: RevocationBus, heard: list[Revocation]) -> None:
    """Poll as a node does, until it has heard all of `sent`; fail after ARRIVAL seconds."""
    deadline = time.monotonic() + ARRIVAL
    while True:
        await node.sync()
        if set(sent) <= set(heard):
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"not delivered within {ARRIVAL} s")
        await asyncio.sleep(0.01)


def every_kind(now: datetime) -> list[Revocation]:
    """One revocation of each kind, with subjects as long and as odd as they come."""
    return [
        revocation("family", crypto.new_handle(), now),
        revocation("user", "0b7c6a8e-2f4d-4c1b-9a3e-5d6f7a8b9c0d", now, timedelta(hours=1)),
        revocation("session", crypto.digest(crypto.new_token()).hex(), now, timedelta(seconds=15)),
        revocation("sessions", "user with spaces: and colons", now),
        revocation("account", "user with spaces: and colons", now),
    ]


async def test_publish_reaches_this_nodes_subscribers_before_it_returns(
    new_bus: NewBus, clock: FrozenClock
) -> None:
    bus = new_bus()
    first, second = heard_by(bus), heard_by(bus)
    sent = every_kind(clock.now())
    for each in sent:
        await bus.publish(each)
        assert each in first and each in second
    # Its own subscription may bring them back: a second delivery, which is allowed.
    assert set(first) == set(second) == set(sent)


async def test_publish_on_one_node_reaches_a_subscriber_on_another(
    new_shared_bus: NewBus, clock: FrozenClock
) -> None:
    here, there = new_shared_bus(), new_shared_bus()
    await there.resync()  # started before anything was published
    heard = heard_by(there)
    clock.advance(timedelta(microseconds=123_457))  # instants cross to the microsecond
    sent = every_kind(clock.now())
    for each in sent:
        await here.publish(each)
    await arrive(sent, there, heard)
    assert set(heard) == set(sent)  # whole, and nothing else


async def test_every_node_hears_what_every_other_published(
    new_shared_bus: NewBus, clock: FrozenClock
) -> None:
    nodes = [new_shared_bus() for _ in range(3)]
    for node in nodes:
        await node.resync()
    heard = [heard_by(node) for node in nodes]
    sent = [revocation("family", crypto.new_handle(), clock.now()) for _ in nodes]
    await asyncio.gather(*(node.publish(each) for node, each in zip(nodes, sent, strict=True)))
    for node, hers in zip(nodes, heard, strict=True):
        await arrive(sent, node, hers)


async def test_resync_returns_every_revocation_published(
    new_bus: NewBus, clock: FrozenClock
) -> None:
    bus = new_bus()
    sent = every_kind(clock.now())
    for each in sent:
        await bus.publish(each)
    assert set(await bus.resync()) == set(sent)


async def test_a_node_starting_later_resyncs_what_is_still_in_force(
    new_shared_bus: NewBus, clock: FrozenClock
) -> None:
    here = new_shared_bus()
    short = revocation("family", "short", clock.now(), timedelta(seconds=10))
    long = revocation("family", "long", clock.now(), timedelta(minutes=10))
    user = revocation("user", "u1", clock.now(), timedelta(minutes=10))
    for each in (short, long, user):
        await here.publish(each)
    clock.advance(10)  # `short` runs out now: it no longer hits any token
    later = new_shared_bus()
    assert set(await later.resync()) == {long, user}


async def test_sweep_forgets_exactly_what_ran_out(new_bus: NewBus, clock: FrozenClock) -> None:
    bus = new_bus()
    start = clock.now()
    ending = [
        revocation("family", "f10", start, timedelta(seconds=10)),
        revocation("session", "ab" * 32, start, timedelta(seconds=20)),  # until == now: out
    ]
    staying = [
        revocation("family", "f21", start, timedelta(seconds=21)),
        revocation("user", "u1", start, timedelta(minutes=10)),
    ]
    for each in [*ending, *staying]:
        await bus.publish(each)
    clock.advance(20)
    assert await bus.sweep(clock.now()) == len(ending)
    assert set(await bus.resync()) == set(staying)
    assert await bus.sweep(clock.now()) == 0
    clock.advance(timedelta(minutes=10))
    # A SQL bus spares its newest row, run out or not: the table's highest id is how every
    # node tells a swept table from one that went backwards. Run out, it is in force nowhere.
    assert len(staying) - 1 <= await bus.sweep(clock.now()) <= len(staying)
    assert await bus.resync() == []


async def test_a_subject_revoked_again_stays_in_force_until_the_later_until(
    new_bus: NewBus, clock: FrozenClock
) -> None:
    bus = new_bus()
    longer = revocation("family", "f1", clock.now(), timedelta(minutes=10))
    clock.advance(1)
    shorter = revocation("family", "f1", clock.now(), timedelta(minutes=1))
    await bus.publish(longer)
    await bus.publish(shorter)  # the later publish must not cut the first one short
    clock.advance(timedelta(minutes=5))
    await bus.sweep(clock.now())
    revoked = RevocationList()
    for each in await bus.resync():
        revoked.apply(each)
    assert revoked.is_revoked("f1", "u1", clock.now())
    clock.advance(timedelta(minutes=5))
    await bus.sweep(clock.now())
    assert await bus.resync() == []


async def test_a_users_cutoff_is_the_latest_whatever_the_order_of_publishing(
    new_bus: NewBus, clock: FrozenClock
) -> None:
    bus = new_bus()
    start = clock.now()
    first = revocation("user", "u1", start)
    clock.advance(30)
    second = revocation("user", "u1", clock.now())
    await bus.publish(second)
    await bus.publish(first)  # late, out of order
    revoked = RevocationList()
    for each in await bus.resync():
        revoked.apply(each)
    # A token issued between the two is older than the second cutoff: it fails.
    assert revoked.is_revoked("another-family", "u1", start + timedelta(seconds=10))
    assert not revoked.is_revoked("another-family", "u1", clock.now())


async def test_start_and_close_are_on_every_bus_and_harmless_twice(
    new_shared_bus: NewBus, clock: FrozenClock
) -> None:
    """The runtime starts and closes whatever bus it was given, without asking which."""
    here, there = new_shared_bus(), new_shared_bus()
    heard = heard_by(there)
    for bus in (here, there):
        bus.start()
        bus.start()
    try:
        sent = [revocation("family", crypto.new_handle(), clock.now())]
        await here.publish(sent[0])
        await arrive(sent, there, heard)
    finally:
        for bus in (here, there):
            await bus.close()
            await bus.close()


async def test_every_bus_states_its_staleness_from_the_poll_interval(new_bus: NewBus) -> None:
    """A bound /healthz can state: never negative, and never more than two polls."""
    bus = new_bus()
    for interval in (0.5, 1.0, 30.0):
        assert 0 <= bus.staleness(interval) <= 2 * interval
