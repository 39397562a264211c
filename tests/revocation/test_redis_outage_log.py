"""A Redis that goes away is told once, not once a second; its return once more.

The subscriber retries about every second for as long as Redis is down: each attempt
is a debug line, the loss one warning, the return one info line.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import pytest

from authward.clock import FrozenClock
from authward.errors import StoreUnavailable
from authward.revocation.redis import RedisRevocationBus
from authward.storage.redis import create_client
from authward.tokens.service import TokenService
from tests.revocation.test_redis_bus import eventually
from tests.storage.redis_servers import RedisServers

BUS_LOG = "authward.revocation.redis"


def lines(caplog: pytest.LogCaptureFixture, level: int, logger: str = BUS_LOG) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == level and r.name == logger]


async def test_redis_lost_is_one_warning_then_quiet_retries_then_one_info(
    redis_servers: RedisServers, clock: FrozenClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger=BUS_LOG)
    port = redis_servers.start()
    client = create_client(f"redis://127.0.0.1:{port}/0")
    bus = RedisRevocationBus(client, clock, heartbeat=0.2, dead_after=0.6)
    bus.start()
    try:
        await eventually(lambda: bus.live)
        redis_servers.kill(port)
        # Several attempts, each of them failed: only the first outage line is a warning.
        await eventually(lambda: len(lines(caplog, logging.DEBUG)) >= 3, within=30)
        warnings = lines(caplog, logging.WARNING)
        assert len(warnings) == 1, warnings
        assert "Redis does not answer" in warnings[0] and "503" in warnings[0]
        assert lines(caplog, logging.INFO) == []

        redis_servers.start(port)
        await eventually(lambda: bus.live, within=30)
        assert lines(caplog, logging.INFO) == [
            "Redis answers again: revocation subscription restored"
        ]
        assert len(lines(caplog, logging.WARNING)) == 1

        redis_servers.kill(port)  # a new outage is told again, once
        await eventually(lambda: len(lines(caplog, logging.WARNING)) == 2, within=30)
    finally:
        await bus.close()
        await client.aclose()


async def test_redis_down_at_start_is_one_warning(
    redis_servers: RedisServers, clock: FrozenClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger=BUS_LOG)
    port = redis_servers.start()
    redis_servers.kill(port)  # a port where a Redis was, and none is now
    client = create_client(f"redis://127.0.0.1:{port}/0")
    bus = RedisRevocationBus(client, clock)
    bus.start()
    try:
        await eventually(lambda: len(lines(caplog, logging.DEBUG)) >= 3, within=30)
        assert len(lines(caplog, logging.WARNING)) == 1
    finally:
        await bus.close()
        await client.aclose()


async def test_a_failing_poll_says_so_once_and_once_more_when_it_works(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="authward.tokens.service")
    calls = 0
    recovered = asyncio.Event()

    async def sync_revocations() -> None:
        nonlocal calls
        calls += 1
        if calls <= 5:
            raise StoreUnavailable("redis")
        recovered.set()

    poll: Callable[[], Awaitable[None]] = sync_revocations
    task = asyncio.create_task(TokenService._every(0.001, poll))
    try:
        await asyncio.wait_for(recovered.wait(), timeout=30)
        await eventually(lambda: bool(lines(caplog, logging.INFO, "authward.tokens.service")[1:]))
    finally:
        task.cancel()
    logger = "authward.tokens.service"
    assert lines(caplog, logging.WARNING, logger) == []
    assert lines(caplog, logging.INFO, logger) == [
        "sync_revocations failed: redis store unavailable; retrying every 0.001s",
        "sync_revocations works again",
    ]
    assert len(lines(caplog, logging.DEBUG, logger)) == 4
