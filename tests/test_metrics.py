"""The counters, histograms and gauge at /metrics move when their events happen."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
from prometheus_client import REGISTRY

from authward import crypto
from authward.clock import FrozenClock
from authward.errors import StoreUnavailable
from authward.ids import Device
from authward.instrument import timed
from authward.metrics import LIVE_SESSIONS
from authward.runtime import Runtime, build_runtime
from authward.sessions.store import MemorySessionStore
from tests.conftest import make_settings
from tests.web.helpers import PASSWORD, register, session_login


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


class Delta:
    """How far each named sample moved since this object was made."""

    def __init__(self, *samples: tuple[str, dict[str, str]]) -> None:
        self._start = {(n, tuple(sorted(lbl.items()))): value(n, **lbl) for n, lbl in samples}

    def __call__(self, name: str, **labels: str) -> float:
        return value(name, **labels) - self._start[(name, tuple(sorted(labels.items())))]


def logins(strategy: str, outcome: str) -> tuple[str, dict[str, str]]:
    return "authward_logins_total", {"strategy": strategy, "outcome": outcome}


def verifications(strategy: str, outcome: str) -> tuple[str, dict[str, str]]:
    return "authward_verifications_total", {"strategy": strategy, "outcome": outcome}


async def _token(client: httpx.AsyncClient) -> dict[str, str]:
    response = await client.post(
        "/auth/token", json={"email": "ada@example.com", "password": PASSWORD}
    )
    assert response.status_code == 200
    tokens: dict[str, str] = response.json()
    return tokens


async def test_logins_by_strategy_and_outcome(client: httpx.AsyncClient, runtime: Runtime) -> None:
    samples = [logins(s, o) for s in ("session", "jwt") for o in ("ok", "failed", "throttled")]
    delta = Delta(*samples)
    await register(client, "ada@example.com")
    await session_login(client, "ada@example.com")
    await _token(client)
    wrong = {"email": "ada@example.com", "password": "wrong password"}
    for _ in range(runtime.settings.login_max_failures):
        await client.post("/auth/token", json=wrong)
    assert (await client.post("/auth/session/login", json=wrong)).status_code == 429
    assert delta("authward_logins_total", strategy="session", outcome="ok") == 1
    assert delta("authward_logins_total", strategy="jwt", outcome="ok") == 1
    assert delta("authward_logins_total", strategy="jwt", outcome="failed") == 5
    assert delta("authward_logins_total", strategy="session", outcome="throttled") == 1
    throttled = value("authward_throttled_total", action="login")
    assert throttled >= 1


async def test_jwt_verifications_by_outcome(
    client: httpx.AsyncClient, runtime: Runtime, clock: FrozenClock
) -> None:
    outcomes = ("ok", "invalid", "expired", "revoked", "unavailable")
    delta = Delta(*(verifications("jwt", o) for o in outcomes))
    await register(client, "ada@example.com")
    tokens = await _token(client)
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert (await client.get("/auth/me", headers=bearer)).status_code == 200
    assert (await client.get("/auth/me", headers={"Authorization": "Bearer x.y.z"})).is_error
    assert (await client.get("/auth/me", headers={"Authorization": "Basic abc"})).is_error
    revoked = await _token(client)
    revoked_bearer = {"Authorization": f"Bearer {revoked['access_token']}"}
    assert (await client.post("/auth/token/revoke", headers=revoked_bearer)).status_code == 204
    assert (await client.get("/auth/me", headers=revoked_bearer)).status_code == 401
    clock.advance(timedelta(seconds=runtime.settings.access_ttl + 60))
    assert (await client.get("/auth/me", headers=bearer)).status_code == 401
    real = runtime.tokens.verify

    def down(token: str) -> object:
        raise StoreUnavailable("revocations")

    runtime.tokens.verify = down  # type: ignore[assignment,method-assign]
    try:
        assert (await client.get("/auth/me", headers=bearer)).status_code == 503
    finally:
        runtime.tokens.verify = real  # type: ignore[method-assign]
    assert delta("authward_verifications_total", strategy="jwt", outcome="ok") == 2  # + revoke
    assert delta("authward_verifications_total", strategy="jwt", outcome="invalid") == 2
    assert delta("authward_verifications_total", strategy="jwt", outcome="revoked") == 1
    assert delta("authward_verifications_total", strategy="jwt", outcome="expired") == 1
    assert delta("authward_verifications_total", strategy="jwt", outcome="unavailable") == 1


async def test_session_verifications_by_outcome(
    client: httpx.AsyncClient, runtime: Runtime, clock: FrozenClock
) -> None:
    delta = Delta(*(verifications("session", o) for o in ("ok", "invalid", "expired")))
    await register(client, "ada@example.com")
    await session_login(client, "ada@example.com")
    assert (await client.get("/auth/me")).status_code == 200
    forged = {"Cookie": f"__Host-authward_session={crypto.new_token()}"}
    assert (await client.get("/auth/me", headers=forged)).status_code == 401
    clock.advance(timedelta(seconds=runtime.settings.session_idle_ttl + 1))
    assert (await client.get("/auth/me")).status_code == 401
    assert delta("authward_verifications_total", strategy="session", outcome="ok") == 1
    assert delta("authward_verifications_total", strategy="session", outcome="invalid") == 1
    assert delta("authward_verifications_total", strategy="session", outcome="expired") == 1


async def test_revocations_by_kind_and_refresh_reuse(client: httpx.AsyncClient) -> None:
    delta = Delta(
        ("authward_revocations_total", {"kind": "session"}),
        ("authward_revocations_total", {"kind": "family"}),
        ("authward_revocations_total", {"kind": "user"}),
        ("authward_refresh_reuse_total", {}),
    )
    await register(client, "ada@example.com")
    csrf = await session_login(client, "ada@example.com")
    first = await _token(client)
    fresh = await client.post("/auth/token/refresh", json={"refresh_token": first["refresh_token"]})
    assert fresh.status_code == 200
    reused = await client.post(
        "/auth/token/refresh",
        json={"refresh_token": first["refresh_token"]},
        headers={"User-Agent": "someone else"},
    )
    assert reused.status_code == 401
    assert (await client.post("/auth/session/logout", headers={"X-CSRF-Token": csrf})).is_success
    await _token(client)
    second = await _token(client)
    bearer = {"Authorization": f"Bearer {second['access_token']}"}
    assert (await client.post("/auth/logout-all", headers=bearer)).status_code == 204
    assert delta("authward_refresh_reuse_total") == 1
    assert delta("authward_revocations_total", kind="session") == 1
    assert delta("authward_revocations_total", kind="family") == 3  # reuse + logout-all's two
    assert delta("authward_revocations_total", kind="user") == 1


async def test_store_latency_is_timed_by_store_and_operation(client: httpx.AsyncClient) -> None:
    count = "authward_store_seconds_count"
    delta = Delta(
        (count, {"store": "users", "operation": "add"}),
        (count, {"store": "sessions", "operation": "add"}),
        (count, {"store": "failure_log", "operation": "reserve"}),
        (count, {"store": "families", "operation": "add"}),
    )
    await register(client, "ada@example.com")
    await session_login(client, "ada@example.com")
    await client.get("/auth/me")
    await _token(client)
    assert delta(count, store="users", operation="add") == 1
    # Added (the login); /auth/me may answer from the node's session cache, read nothing.
    assert delta(count, store="sessions", operation="add") == 1
    assert delta(count, store="failure_log", operation="reserve") >= 2
    assert delta(count, store="families", operation="add") == 1


async def test_timed_stores_pass_everything_through() -> None:
    store = MemorySessionStore()
    wrapped = timed(store, "test_sessions")
    assert timed(wrapped, "again") is wrapped
    assert await wrapped.count() == 0
    assert wrapped._sessions is store._sessions  # type: ignore[attr-defined]
    assert "MemorySessionStore" in repr(wrapped)


async def test_the_sweep_sets_the_live_sessions_gauge(
    client: httpx.AsyncClient, runtime: Runtime, clock: FrozenClock
) -> None:
    await register(client, "ada@example.com")
    await session_login(client, "ada@example.com")
    client.cookies.clear()  # else the second login ends the first (no fixation)
    await session_login(client, "ada@example.com")
    await runtime.sweep()
    assert value("authward_live_sessions") == 2
    clock.advance(timedelta(seconds=runtime.settings.session_absolute_ttl + 1))
    await runtime.sweep()
    assert value("authward_live_sessions") == 0
    assert value("authward_swept_total", kind="sessions") >= 2


async def test_the_live_sessions_gauge_is_right_from_the_start(
    tmp_path: object, clock: FrozenClock
) -> None:
    settings = make_settings(tmp_path)
    first = build_runtime(settings, clock=clock)
    await first.open(background=False)
    for user in ("ann", "bob", "cy"):
        await first.sessions.start(user, Device())
    await first.close()
    LIVE_SESSIONS.set(-1)  # whatever an earlier test left
    again = build_runtime(settings, clock=clock)
    await again.open()  # the sweep itself is a minute away
    try:
        for _ in range(200):
            if value("authward_live_sessions") != -1:
                break
            await asyncio.sleep(0.01)
        assert value("authward_live_sessions") == 3
    finally:
        await again.close()


async def test_metrics_endpoint_lists_every_family(client: httpx.AsyncClient) -> None:
    await register(client, "ada@example.com")
    await session_login(client, "ada@example.com")
    text = (await client.get("/metrics")).text
    for name in (
        "authward_logins_total",
        "authward_verifications_total",
        "authward_revocations_total",
        "authward_refresh_reuse_total",
        "authward_throttled_total",
        "authward_store_seconds_bucket",
        "authward_live_sessions",
    ):
        assert name in text, name
