"""The caller carries its login's assurance: nothing reads the session or token again.

`/auth/me` and step-up read `auth_time` and `amr` off the `AuthUser` the strategy built
from the record it read to authenticate: a session request without a session cache is
exactly one store read. After a step-up the same node's next request sees the new time,
with the session cache on or off.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime

import httpx
import pytest

from authward.clock import FrozenClock
from authward.ids import UserId
from authward.runtime import Runtime, build_runtime
from authward.sessions.models import Session
from authward.sessions.store import SessionStore
from tests.conftest import http_client, make_settings
from tests.web.helpers import PASSWORD, register, session_login

EMAIL = "ada@example.com"


class CountedReads:
    """The real store, counting `get`: every other call goes through untouched."""

    def __init__(self, store: SessionStore) -> None:
        self.store = store
        self.reads = 0

    async def get(self, id_digest: bytes) -> Session | None:
        self.reads += 1
        return await self.store.get(id_digest)

    async def reauthenticate(
        self, id_digest: bytes, user_id: UserId, at: datetime
    ) -> Session | None:
        return await self.store.reauthenticate(id_digest, user_id, at)

    def __getattr__(self, name: str) -> object:
        return getattr(self.store, name)


async def started(tmp_path: object, clock: FrozenClock, cache_ttl: float) -> Runtime:
    built = build_runtime(make_settings(tmp_path, session_cache_ttl=cache_ttl), clock=clock)
    await built.open(background=False)
    return built


@pytest.fixture(params=[0, 30], ids=["no-cache", "cache"])
async def runtime(
    request: pytest.FixtureRequest, tmp_path: object, clock: FrozenClock
) -> AsyncIterator[Runtime]:
    built = await started(tmp_path, clock, request.param)
    yield built
    await built.close()


@pytest.fixture
async def client(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    async with http_client(runtime) as c:
        yield c


async def test_me_by_session_without_a_cache_reads_the_store_once(
    tmp_path: object, clock: FrozenClock
) -> None:
    runtime = await started(tmp_path, clock, 0)
    try:
        async with http_client(runtime) as client:
            await register(client, EMAIL)
            await session_login(client, EMAIL)
            counted = CountedReads(runtime.sessions.store)
            runtime.sessions.store = counted  # type: ignore[assignment]
            me = await client.get("/auth/me")
            assert me.status_code == 200, me.text
            assert me.json()["amr"] == ["pwd"]
            assert counted.reads == 1
    finally:
        await runtime.close()


async def test_after_a_step_up_the_next_request_on_this_node_sees_the_new_time(
    client: httpx.AsyncClient, runtime: Runtime, clock: FrozenClock
) -> None:
    await register(client, EMAIL)
    csrf = await session_login(client, EMAIL)
    first = (await client.get("/auth/me")).json()
    assert (await client.get("/auth/me")).json() == first  # held, with the cache on
    clock.advance(400)
    stepped = await client.post(
        "/auth/reauth", json={"password": PASSWORD}, headers={"X-CSRF-Token": csrf}
    )
    assert stepped.status_code == 204, stepped.text
    after = (await client.get("/auth/me")).json()
    assert after["auth_time"] > first["auth_time"]
    # And the step-up routes see it too: no challenge for a login just made recent.
    begun = await client.post("/auth/factors/totp", json={}, headers={"X-CSRF-Token": csrf})
    assert begun.status_code == 200, begun.text
