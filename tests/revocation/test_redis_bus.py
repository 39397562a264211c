"""The Redis revocation bus: pushed at once, caught up after any loss, on a node or a cluster.

Nodes are played by buses with clients of their own. Waits here are for real network
I/O (a message crossing Redis), bounded and polled; time that matters to the logic comes
from the FrozenClock.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from datetime import timedelta

import pytest

from authward.clock import FrozenClock
from authward.revocation.list import Revocation
from authward.revocation.redis import RedisRevocationBus
from authward.storage.redis import KeyNames, RedisClient, create_client, micros

pytestmark = pytest.mark.redis

RedisSpace = tuple[RedisClient, KeyNames]


async def eventually(condition: Callable[[], bool], within: float = 5.0) -> float:
    """Wait for `condition` (set by network I/O); return how long it took, seconds."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > within:
            raise AssertionError(f"not within {within} s")
        await asyncio.sleep(0.005)
    return time.monotonic() - started


def family(clock: FrozenClock, name: str, ttl: float = 300) -> Revocation:
    return Revocation("family", name, clock.now(), clock.now() + timedelta(seconds=ttl))


class Heard:
    def __init__(self, bus: RedisRevocationBus) -> None:
        self.revocations: list[Revocation] = []
        bus.subscribe(self.revocations.append)

    @property
    def subjects(self) -> set[str]:
        return {r.subject for r in self.revocations}


@pytest.fixture
async def nodes(
    redis_node: RedisSpace, redis_url: str, clock: FrozenClock
) -> AsyncIterator[tuple[RedisRevocationBus, RedisRevocationBus]]:
    client, keys = redis_node
    other = create_client(redis_url)
    here = RedisRevocationBus(client, clock, keys=keys)
    there = RedisRevocationBus(other, clock, keys=keys)
    yield here, there
    await here.close()
    await there.close()
    await other.aclose()


async def test_publish_reaches_a_listening_node_at_once(
    nodes: tuple[RedisRevocationBus, RedisRevocationBus], clock: FrozenClock
) -> None:
    here, there = nodes
    heard_here, heard_there = Heard(here), Heard(there)
    there.start()
    await eventually(lambda: there.live)
    await here.publish(family(clock, "f1"))
    assert heard_here.subjects == {"f1"}  # the publishing node: before publish returns
    took = await eventually(lambda: "f1" in heard_there.subjects)
    assert took < 1.0


async def test_a_node_starting_later_resyncs_what_is_in_force(
    nodes: tuple[RedisRevocationBus, RedisRevocationBus], clock: FrozenClock
) -> None:
    here, later = nodes
    await here.publish(family(clock, "short", ttl=10))
    await here.publish(family(clock, "long", ttl=600))
    await here.publish(
        Revocation("session", "ab" * 32, clock.now(), clock.now() + timedelta(seconds=60))
    )
    clock.advance(10)
    assert {r.subject for r in await later.resync()} == {"long", "ab" * 32}
    assert await later.sweep(clock.now()) == 1
    clock.advance(600)
    assert await later.sweep(clock.now()) == 2
    assert await later.resync() == []


async def test_a_subject_revoked_twice_keeps_the_later_cutoff(
    nodes: tuple[RedisRevocationBus, RedisRevocationBus], clock: FrozenClock
) -> None:
    here, there = nodes
    first = Revocation("user", "u1", clock.now(), clock.now() + timedelta(seconds=300))
    clock.advance(30)
    second = Revocation("user", "u1", clock.now(), clock.now() + timedelta(seconds=300))
    await here.publish(second)
    await here.publish(first)  # late, out of order: must not move the cutoff back
    assert await there.resync() == [second]


async def test_a_lost_message_is_caught_by_the_counter_within_two_polls(
    nodes: tuple[RedisRevocationBus, RedisRevocationBus],
    redis_node: RedisSpace,
    clock: FrozenClock,
) -> None:
    here, there = nodes
    heard = Heard(there)
    there.start()
    await eventually(lambda: there.live)
    await there.sync()
    # A revocation recorded and counted whose PUBLISH never reached this node.
    client, keys = redis_node
    until = micros(clock.now() + timedelta(seconds=300))
    await client.hset(
        keys.tagged("revocations", "live"), "family:lost", f"{micros(clock.now())}:{until}"
    )
    await client.incr(keys.tagged("revocations", "seq"))
    await there.sync()  # sees the counter ahead: the message may still be on its way
    assert "lost" not in heard.subjects
    await there.sync()  # still missing one poll later: read the record
    assert "lost" in heard.subjects


async def test_a_gap_in_message_numbers_triggers_a_resync(
    nodes: tuple[RedisRevocationBus, RedisRevocationBus],
    redis_node: RedisSpace,
    clock: FrozenClock,
) -> None:
    here, there = nodes
    heard = Heard(there)
    there.start()
    await eventually(lambda: there.live)
    client, keys = redis_node
    until = micros(clock.now() + timedelta(seconds=300))
    await client.hset(
        keys.tagged("revocations", "live"), "family:lost", f"{micros(clock.now())}:{until}"
    )
    await client.incr(keys.tagged("revocations", "seq"))
    await here.publish(family(clock, "next"))  # number n+2 arrives where n+1 was expected
    await eventually(lambda: {"lost", "next"} <= heard.subjects)


async def test_a_malformed_message_is_ignored(
    nodes: tuple[RedisRevocationBus, RedisRevocationBus],
    redis_node: RedisSpace,
    clock: FrozenClock,
) -> None:
    here, there = nodes
    heard = Heard(there)
    there.start()
    await eventually(lambda: there.live)
    client, _ = redis_node
    for junk in (b"", b"1 family", b"x family 1 2 f", b"2 nope 1 2 f", b"\xff\xfe 1 2 3"):
        await client.publish(there.channel, junk)
    await here.publish(family(clock, "f1"))
    await eventually(lambda: "f1" in heard.subjects)
    assert heard.subjects == {"f1"}
    assert there.live


async def test_the_bus_works_on_a_redis_cluster(
    redis_cluster: RedisSpace, redis_cluster_url: str, clock: FrozenClock
) -> None:
    client, keys = redis_cluster
    other = create_client(redis_cluster_url)
    here = RedisRevocationBus(client, clock, keys=keys)
    there = RedisRevocationBus(other, clock, keys=keys)
    heard = Heard(there)
    try:
        there.start()
        await eventually(lambda: there.live)
        await here.publish(family(clock, "f1"))
        await here.publish(
            Revocation("user", "u1", clock.now(), clock.now() + timedelta(seconds=60))
        )
        await eventually(lambda: {"f1", "u1"} <= heard.subjects)
        await there.sync()
        assert {r.subject for r in await there.resync()} == {"f1", "u1"}
        clock.advance(600)
        assert await here.sweep(clock.now()) == 2
    finally:
        await here.close()
        await there.close()
        await other.aclose()
