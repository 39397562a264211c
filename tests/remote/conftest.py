"""A JWKS endpoint that answers from a live TokenService, counting its fetches."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import pytest

from authward.clock import FrozenClock
from authward.ids import Device
from authward.remote import JwksVerifier
from authward.tokens.service import TokenService
from tests.tokens.factory import make_service

JWKS_URL = "https://auth.example/.well-known/jwks.json"


@dataclass
class Endpoint:
    service: TokenService
    fetches: int = 0
    down: bool = False
    extra_keys: list[dict[str, str]] = field(default_factory=list)

    def answer(self, request: httpx.Request) -> httpx.Response:
        assert str(request.url) == JWKS_URL
        self.fetches += 1
        if self.down:
            return httpx.Response(503)
        document = self.service.jwks()
        keys = [*document["keys"], *self.extra_keys]  # type: ignore[misc]
        return httpx.Response(200, json={"keys": keys})

    def verifier(self, clock: FrozenClock, **options: object) -> JwksVerifier:
        transport = httpx.MockTransport(self.answer)
        return JwksVerifier(
            JWKS_URL,
            clock=clock,
            client=httpx.Client(transport=transport),
            async_client=httpx.AsyncClient(transport=transport),
            **options,  # type: ignore[arg-type]
        )

    async def token(self, user_id: str = "user-1") -> str:
        return (await self.service.issue(user_id, Device())).access_token


@pytest.fixture
async def endpoint(clock: FrozenClock) -> AsyncIterator[Endpoint]:
    service = await make_service(clock, "EdDSA")
    yield Endpoint(service)
    await service.close()
