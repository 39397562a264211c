"""A Redis that dies, hangs, or is not there yet: the feed fails closed, then heals alone.

Every test runs its own `redis-server` (`redis_servers`), never the shared one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from authward.clock import FrozenClock
from authward.errors import InvalidToken, StoreUnavailable
from authward.ids import Device
from authward.revocation.redis import RedisRevocationBus
from authward.runtime import build_tokens
from authward.storage.redis import create_client
from authward.tokens import service as token_service
from authward.tokens.service import TokenService
from tests.revocation.test_redis_bus import Heard, eventually, family
from tests.servers import free_port
from tests.storage.redis_servers import RedisServers
from tests.tokens.factory import MASTER, TEST_RSA_BITS, token_settings

pytestmark = pytest.mark.redis

PHONE = Device("phone/1.0", "198.51.100.7")
STALE_AFTER = 0.3  # seconds: the fail-closed limit, shortened for the test


@pytest.fixture
def quick_staleness(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(token_service, "MIN_STALE_AFTER", STALE_AFTER)


def node(url: str, clock: FrozenClock, **options: float) -> RedisRevocationBus:
    return RedisRevocationBus(create_client(url), clock, **options)  # type: ignore[arg-type]


@pytest.fixture
async def buses() -> AsyncIterator[list[RedisRevocationBus]]:
    made: list[RedisRevocationBus] = []
    yield made
    for bus in made:
        await bus.close()
        await bus._client.aclose()


async def test_the_subscriber_resyncs_after_redis_restarts(
    redis_servers: RedisServers, buses: list[RedisRevocationBus], clock: FrozenClock
) -> None:
    port = redis_servers.start()
    url = f"redis://127.0.0.1:{port}/0"
    here, there = node(url, clock), node(url, clock)
    buses += [here, there]
    heard = Heard(there)
    there.start()
    await eventually(lambda: there.live)

    redis_servers.kill(port)
    await eventually(lambda: not there.live)
    with pytest.raises(StoreUnavailable):
        await there.sync()

    redis_servers.start(port)
    await here.publish(family(clock, "while-away"))  # maybe before it is back: resync finds it
    await eventually(lambda: "while-away" in heard.subjects)
    await eventually(lambda: there.live)
    assert there.connects == 2
    await there.sync()


async def test_a_frozen_redis_is_noticed_by_the_heartbeat(
    redis_servers: RedisServers, buses: list[RedisRevocationBus], clock: FrozenClock
) -> None:
    port = redis_servers.start()
    bus = node(f"redis://127.0.0.1:{port}/0", clock, heartbeat=0.05, dead_after=0.3)
    buses.append(bus)
    bus.start()
    await eventually(lambda: bus.live)
    redis_servers.freeze(port)  # connections stay open; nothing answers
    try:
        await eventually(lambda: not bus.live, within=3)
    finally:
        redis_servers.thaw(port)
    await eventually(lambda: bus.live)
    assert bus.connects == 2


async def test_verify_fails_closed_while_the_feed_is_down_and_heals(
    redis_servers: RedisServers, clock: FrozenClock, quick_staleness: None
) -> None:
    port = redis_servers.start()
    bus = node(f"redis://127.0.0.1:{port}/0", clock)
    settings = token_settings(revocation_poll_interval=0.02)
    tokens = build_tokens(settings, MASTER, None, clock, bus=bus, rsa_bits=TEST_RSA_BITS)
    bus.start()
    await tokens.open(background=True)
    try:
        pair = await tokens.issue("user-1", PHONE)
        tokens.verify(pair.access_token)

        redis_servers.kill(port)
        await eventually(lambda: not tokens.feed_healthy())
        await eventually(lambda: raises_unavailable(tokens, pair.access_token))

        redis_servers.start(port)
        await eventually(lambda: tokens.feed_healthy())
        tokens.verify(pair.access_token)
        await tokens.revoke_family(pair.family.id)
        with pytest.raises(InvalidToken):
            tokens.verify(pair.access_token)
    finally:
        await tokens.close()
        await bus.close()
        await bus._client.aclose()


async def test_a_redis_that_is_not_up_at_start_fails_closed_until_it_is(
    redis_servers: RedisServers, clock: FrozenClock, quick_staleness: None
) -> None:
    port = free_port()
    bus = node(f"redis://127.0.0.1:{port}/0", clock)
    settings = token_settings(revocation_poll_interval=0.02)
    tokens = build_tokens(settings, MASTER, None, clock, bus=bus, rsa_bits=TEST_RSA_BITS)
    bus.start()
    await tokens.open(background=True)  # does not raise: a server must start regardless
    try:
        pair = await tokens.issue("user-1", PHONE)
        assert not tokens.feed_healthy()
        assert raises_unavailable(tokens, pair.access_token)  # at once, not after a delay

        redis_servers.start(port)
        await eventually(lambda: tokens.feed_healthy() and bus.live)
        tokens.verify(pair.access_token)
    finally:
        await tokens.close()
        await bus.close()
        await bus._client.aclose()


def raises_unavailable(tokens: TokenService, token: str) -> bool:
    try:
        tokens.verify(token)
    except StoreUnavailable:
        return True
    return False
