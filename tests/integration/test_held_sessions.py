"""With a session cache, the dependencies answer a held session without an await.

That path (`SessionService.held`) must keep every promise the slow one keeps: an ended
session is refused at once, an idle one on time, and an unsafe request still needs its
CSRF token. Each test first shows the session held, so the fast path is the one tested.
"""

from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest

from authward.clock import FrozenClock
from authward.runtime import Runtime, build_runtime
from tests.conftest import make_settings
from tests.web.helpers import PASSWORD, register, session_cookie, session_login

COOKIE = "__Host-authward_session"


@pytest.fixture
async def runtime(tmp_path: object, clock: FrozenClock) -> AsyncIterator[Runtime]:
    # Slides are due every 12 s (a tenth of the idle timeout), well within the cache's TTL:
    # a copy the cache would still serve may have a slide due.
    settings = make_settings(tmp_path, session_cache_ttl=30, session_idle_ttl=120)
    built = build_runtime(settings, clock=clock)
    await built.open(background=False)
    yield built
    await built.close()


async def held_login(client: httpx.AsyncClient, runtime: Runtime, email: str) -> tuple[str, str]:
    """Register and log in by session, then use it once; return its cookie and CSRF token."""
    await register(client, email)
    csrf = await session_login(client, email)
    cookie = session_cookie(client)
    assert runtime.sessions.held(cookie) is None  # not until a request has found it live
    assert (await client.get("/whoami")).status_code == 200
    assert runtime.sessions.held(cookie) is not None
    return cookie, csrf


async def whoami(client: httpx.AsyncClient, cookie: str) -> int:
    client.cookies.set(COOKIE, cookie)
    return (await client.get("/whoami")).status_code


async def test_a_held_session_answers_by_dependency_and_directly(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await held_login(app_client, runtime, "ada@example.com")
    for path in ("/whoami", "/direct", "/page"):
        response = await app_client.get(path)
        assert response.status_code == 200 and response.json()["id"], path


async def test_a_held_session_ends_at_logout_and_at_sign_out_everywhere(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    cookie, csrf = await held_login(app_client, runtime, "ada@example.com")
    ended = await app_client.post("/auth/session/logout", headers={"X-CSRF-Token": csrf})
    assert ended.status_code == 204
    assert await whoami(app_client, cookie) == 401

    app_client.cookies.clear()
    cookie, csrf = await held_login(app_client, runtime, "bob@example.com")
    everywhere = await app_client.post("/auth/logout-all", headers={"X-CSRF-Token": csrf})
    assert everywhere.status_code == 204
    assert await whoami(app_client, cookie) == 401


async def test_a_held_session_ends_when_the_password_changes(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    cookie, _ = await held_login(app_client, runtime, "ada@example.com")
    app_client.cookies.clear()  # another device: a login here would replace the session
    other = await app_client.post(
        "/auth/session/login", json={"email": "ada@example.com", "password": PASSWORD}
    )
    assert other.status_code == 200
    kept = session_cookie(app_client)  # the session that changes the password stays
    assert await whoami(app_client, cookie) == 200  # both are live, the first one held
    app_client.cookies.set(COOKIE, kept)
    changed = await app_client.post(
        "/auth/password",
        json={"current_password": PASSWORD, "new_password": "another long passphrase 2"},
        headers={"X-CSRF-Token": other.json()["csrf_token"]},
    )
    assert changed.status_code == 204, changed.text
    assert await whoami(app_client, cookie) == 401
    assert await whoami(app_client, kept) == 200


async def test_a_held_session_still_needs_its_csrf_token(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    _, csrf = await held_login(app_client, runtime, "ada@example.com")
    assert (await app_client.post("/notes")).status_code == 403
    assert (await app_client.post("/direct")).status_code == 403
    assert (await app_client.post("/notes", headers={"X-CSRF-Token": csrf})).status_code == 200


async def test_a_held_session_slides_and_times_out(
    app_client: httpx.AsyncClient, runtime: Runtime, clock: FrozenClock
) -> None:
    cookie, _ = await held_login(app_client, runtime, "ada@example.com")
    policy = runtime.sessions.policy
    assert policy.touch_interval < timedelta(seconds=30)
    clock.advance(policy.touch_interval)
    assert runtime.sessions.held(cookie) is None  # a slide is due: the slow path writes it
    assert await whoami(app_client, cookie) == 200
    slid = runtime.sessions.held(cookie)  # held again, with the slide written through
    assert slid is not None and slid.last_seen_at == clock.now()
    stored = await runtime.sessions.store.get(slid.id_digest)
    assert stored is not None and stored.last_seen_at == clock.now()
    clock.advance(policy.idle_ttl + timedelta(seconds=1))
    assert runtime.sessions.held(cookie) is None
    assert await whoami(app_client, cookie) == 401
