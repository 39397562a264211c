"""The session strategy over HTTP: every promise of the contract's session section."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select

from authward.clock import FrozenClock
from authward.runtime import Runtime
from authward.sessions.sql import sessions as sessions_table
from tests.conftest import http_client, make_settings
from tests.web.helpers import PASSWORD, register, session_cookie, session_login, status_as

COOKIE = "__Host-authward_session"


async def test_login_sets_a_hardened_cookie(client: httpx.AsyncClient) -> None:
    await register(client, "ada@example.com")
    response = await client.post(
        "/auth/session/login", json={"email": "ada@example.com", "password": PASSWORD}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["user"]["email"] == "ada@example.com"
    assert len(body["csrf_token"]) >= 32
    header = response.headers["set-cookie"]
    attributes = {part.strip().split("=")[0].lower() for part in header.split(";")}
    assert header.startswith(f"{COOKIE}=")
    assert {"httponly", "secure", "path", "samesite"} <= attributes
    assert "domain" not in attributes
    assert "samesite=lax" in header.lower()
    assert "path=/" in header.lower()


async def test_session_id_has_256_bits_and_only_its_digest_is_stored(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await register(client, "ada@example.com")
    await session_login(client, "ada@example.com")
    session_id = session_cookie(client)
    assert len(session_id) == 43  # 32 random bytes, base64url
    async with runtime.engine.connect() as conn:
        rows = (await conn.execute(select(sessions_table))).mappings().all()
    assert len(rows) == 1
    stored = rows[0]
    assert bytes(stored["id_digest"]) == hashlib.sha256(session_id.encode()).digest()
    for value in stored.values():
        text = value.hex() if isinstance(value, bytes) else str(value)
        assert session_id not in text
    assert stored["handle"] != session_id


async def test_each_login_gets_a_new_id_and_a_planted_one_is_dropped(
    client: httpx.AsyncClient,
) -> None:
    await register(client, "ada@example.com")
    await session_login(client, "ada@example.com")
    first = session_cookie(client)
    await session_login(client, "ada@example.com")
    second = session_cookie(client)
    assert first != second
    # The id sent before the second login (first) no longer authenticates: no fixation.
    assert await status_as(client, first) == 401


async def test_attacker_planted_id_is_never_adopted(client: httpx.AsyncClient) -> None:
    await register(client, "ada@example.com")
    planted = "A" * 43
    response = await client.post(
        "/auth/session/login",
        json={"email": "ada@example.com", "password": PASSWORD},
        headers={"Cookie": f"{COOKIE}={planted}"},
    )
    assert response.status_code == 200
    assert session_cookie(client) != planted
    assert await status_as(client, planted) == 401


async def test_me_by_session(client: httpx.AsyncClient) -> None:
    user_id = await register(client, "ada@example.com")
    await session_login(client, "ada@example.com")
    response = await client.get("/auth/me")
    assert response.status_code == 200
    assert response.json() == {
        "id": user_id,
        "email": "ada@example.com",
        "auth": "session",
        "auth_time": "2030-01-01T00:00:00Z",
        "amr": ["pwd"],
        "aal": "aal1",
        "email_verified": False,
    }


async def test_me_without_credentials_is_401_with_bearer_challenge(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/auth/me")
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert isinstance(response.json()["detail"], str)


@pytest.mark.parametrize("csrf", [None, "", "wrong-token", "x" * 43])
async def test_unsafe_cookie_request_without_the_right_csrf_token_is_403(
    client: httpx.AsyncClient, csrf: str | None
) -> None:
    await register(client, "ada@example.com")
    await session_login(client, "ada@example.com")
    headers = {} if csrf is None else {"X-CSRF-Token": csrf}
    response = await client.post("/auth/session/logout", headers=headers)
    assert response.status_code == 403
    assert (await client.get("/auth/me")).status_code == 200  # the session is untouched


async def test_csrf_token_of_another_session_is_refused(client: httpx.AsyncClient) -> None:
    await register(client, "ada@example.com")
    other_csrf = await session_login(client, "ada@example.com")
    await session_login(client, "ada@example.com")
    response = await client.post("/auth/session/logout", headers={"X-CSRF-Token": other_csrf})
    assert response.status_code == 403


async def test_form_may_carry_the_csrf_token_as_a_field(client: httpx.AsyncClient) -> None:
    await register(client, "ada@example.com")
    csrf = await session_login(client, "ada@example.com")
    response = await client.post("/auth/logout-all", data={"csrf_token": csrf})
    assert response.status_code == 204
    assert (await client.get("/auth/me")).status_code == 401


async def test_logout_deletes_the_session_everywhere(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await register(client, "ada@example.com")
    csrf = await session_login(client, "ada@example.com")
    session_id = session_cookie(client)
    response = await client.post("/auth/session/logout", headers={"X-CSRF-Token": csrf})
    assert response.status_code == 204
    assert response.headers["clear-site-data"] == '"cookies"'
    assert "max-age=0" in response.headers["set-cookie"].lower()
    assert await runtime.sessions.store.count() == 0
    assert await status_as(client, session_id) == 401


async def test_idle_timeout_slides_and_then_ends_the_session(
    client: httpx.AsyncClient, clock: FrozenClock, runtime: Runtime
) -> None:
    idle = runtime.settings.session_idle_ttl
    await register(client, "ada@example.com")
    await session_login(client, "ada@example.com")
    for _ in range(3):  # active for three idle periods in all: still signed in
        clock.advance(idle * 0.9)
        assert (await client.get("/auth/me")).status_code == 200
    clock.advance(idle + 1)
    assert (await client.get("/auth/me")).status_code == 401


async def test_absolute_timeout_ends_even_an_active_session(
    client: httpx.AsyncClient, clock: FrozenClock, runtime: Runtime
) -> None:
    settings = runtime.settings
    await register(client, "ada@example.com")
    await session_login(client, "ada@example.com")
    elapsed = 0.0
    step = settings.session_idle_ttl * 0.5
    while elapsed + step < settings.session_absolute_ttl:
        clock.advance(step)
        elapsed += step
        assert (await client.get("/auth/me")).status_code == 200
    clock.advance(settings.session_absolute_ttl - elapsed)
    assert (await client.get("/auth/me")).status_code == 401


async def test_oldest_session_ends_at_the_per_user_limit(
    tmp_path: object, clock: FrozenClock
) -> None:
    from authward.runtime import build_runtime

    runtime = build_runtime(make_settings(tmp_path, max_sessions_per_user=2), clock=clock)
    await runtime.open(background=False)
    try:
        async with http_client(runtime) as client:
            await register(client, "ada@example.com")
            ids = []
            for _ in range(3):
                await session_login(client, "ada@example.com")
                ids.append(session_cookie(client))
                clock.advance(1)
                client.cookies.clear()
            statuses = [await status_as(client, i) for i in ids]
            assert statuses == [401, 200, 200]
    finally:
        await runtime.close()


@pytest.mark.parametrize(
    "cookie",
    ["", "short", "A" * 42, "A" * 44, "A" * 5000, "é" * 43, "../../etc/passwd", "A" * 42 + "="],
)
async def test_malformed_session_ids_are_refused_before_any_lookup(
    client: httpx.AsyncClient, runtime: Runtime, cookie: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    looked_up = []
    original = runtime.sessions.store.get

    async def spy(id_digest: bytes) -> object:
        looked_up.append(id_digest)
        return await original(id_digest)

    monkeypatch.setattr(runtime.sessions.store, "get", spy)
    response = await client.get("/auth/me", headers={"Cookie": f"{COOKIE}={cookie}".encode()})
    assert response.status_code == 401
    assert looked_up == []
    assert await runtime.sessions.store.count() == 0


async def test_unknown_well_formed_id_is_refused_and_creates_nothing(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    assert await status_as(client, "B" * 43) == 401
    assert await runtime.sessions.store.count() == 0


async def test_sessions_list_shows_devices_with_public_handles(client: httpx.AsyncClient) -> None:
    await register(client, "ada@example.com")
    await session_login(client, "ada@example.com")
    session_id = session_cookie(client)
    response = await client.get("/auth/sessions", headers={"User-Agent": "TestBrowser/1.0"})
    assert response.status_code == 200
    [entry] = response.json()
    assert entry["kind"] == "session"
    assert entry["current"] is True
    assert entry["ip"] == "203.0.113.7"
    assert entry["id"] not in (session_id, hashlib.sha256(session_id.encode()).hexdigest())
    assert {"created_at", "last_seen_at", "user_agent"} <= entry.keys()


async def test_ending_one_session_by_handle_and_not_someone_elses(
    runtime: Runtime,
) -> None:
    async with http_client(runtime) as ada, http_client(runtime) as eve:
        await register(ada, "ada@example.com")
        await register(eve, "eve@example.com")
        ada_csrf = await session_login(ada, "ada@example.com")
        eve_csrf = await session_login(eve, "eve@example.com")
        [ada_entry] = (await ada.get("/auth/sessions")).json()
        stolen = await eve.delete(
            f"/auth/sessions/{ada_entry['id']}", headers={"X-CSRF-Token": eve_csrf}
        )
        assert stolen.status_code == 404
        assert (await ada.get("/auth/me")).status_code == 200
        own = await ada.delete(
            f"/auth/sessions/{ada_entry['id']}", headers={"X-CSRF-Token": ada_csrf}
        )
        assert own.status_code == 204
        assert (await ada.get("/auth/me")).status_code == 401


async def test_logout_all_ends_every_session(runtime: Runtime) -> None:
    async with http_client(runtime) as laptop, http_client(runtime) as phone:
        await register(laptop, "ada@example.com")
        csrf = await session_login(laptop, "ada@example.com")
        await session_login(phone, "ada@example.com")
        response = await laptop.post("/auth/logout-all", headers={"X-CSRF-Token": csrf})
        assert response.status_code == 204
        assert (await laptop.get("/auth/me")).status_code == 401
        assert (await phone.get("/auth/me")).status_code == 401


async def test_sweep_removes_expired_sessions_only(
    client: httpx.AsyncClient, clock: FrozenClock, runtime: Runtime
) -> None:
    await register(client, "ada@example.com")
    await session_login(client, "ada@example.com")
    clock.advance(timedelta(seconds=runtime.settings.session_idle_ttl - 10))
    client.cookies.clear()
    await session_login(client, "ada@example.com")
    clock.advance(20)
    removed = await runtime.sweep()
    assert removed["sessions"] == 1
    assert await runtime.sessions.store.count() == 1
    assert (await client.get("/auth/me")).status_code == 200
