"""The verified-token cache holds live tokens only, once the sweep has run."""

from __future__ import annotations

from datetime import timedelta

from authward.clock import FrozenClock
from authward.ids import Device
from tests.tokens.factory import make_service


async def test_the_sweep_forgets_expired_tokens_but_keeps_live_ones(clock: FrozenClock) -> None:
    service = await make_service(clock, "EdDSA")
    old = (await service.issue("user-1", Device())).access_token
    service.verify(old)
    clock.advance(timedelta(seconds=service.settings.access_ttl - 5))
    fresh = (await service.issue("user-1", Device())).access_token
    service.verify(fresh)
    clock.advance(timedelta(seconds=10 + service.settings.leeway))
    assert service.access.forget_expired(clock.now()) == 1
    await service.sweep()
    assert service.verify(fresh).sub == "user-1"  # still remembered, still valid
    assert service.access.forget_expired(clock.now()) == 0
