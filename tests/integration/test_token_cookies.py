"""The token cookies in a library user's app: dependencies and middleware accept them."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from authward import Authward
from authward.clock import FrozenClock
from authward.runtime import Runtime, build_runtime
from authward.settings import Settings
from tests.conftest import make_settings
from tests.integration.conftest import make_app, user_client
from tests.integration.test_middleware import make_starlette
from tests.web.helpers import PASSWORD, register, session_login


@pytest.fixture
def settings(tmp_path: object) -> Settings:
    return make_settings(tmp_path, token_cookies=True)


@pytest.fixture
async def web(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    """A Starlette app with AuthwardMiddleware, authward's API mounted beside it."""
    app = make_starlette(Authward.from_runtime(runtime))
    transport = httpx.ASGITransport(app=app, client=("198.51.100.4", 4000))
    async with httpx.AsyncClient(transport=transport, base_url="https://app.test") as client:
        yield client


async def _cookie_login(client: httpx.AsyncClient, email: str = "ada@example.com") -> str:
    """Log in for tokens (cookies into the jar); return the family's CSRF token."""
    response = await client.post("/auth/token", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    csrf: str = response.json()["csrf_token"]
    return csrf


async def test_current_user_and_token_user_accept_the_access_cookie(
    app_client: httpx.AsyncClient,
) -> None:
    user_id = await register(app_client, "ada@example.com")
    await _cookie_login(app_client)
    who = (await app_client.get("/whoami")).json()
    assert who["id"] == user_id and who["via"] == "jwt"
    assert (await app_client.get("/direct")).json() == {"id": user_id, "via": "jwt"}
    assert (await app_client.get("/api")).json() == {"id": user_id}  # token_user
    assert (await app_client.get("/maybe")).json() == {"id": user_id}
    assert (await app_client.get("/page")).status_code == 401  # session_user: no session


async def test_the_apps_unsafe_routes_need_the_familys_csrf_token(
    app_client: httpx.AsyncClient,
) -> None:
    await register(app_client, "ada@example.com")
    csrf = await _cookie_login(app_client)
    for path in ("/notes", "/direct"):
        refused = await app_client.post(path)
        assert refused.status_code == 403
        assert refused.json() == {"detail": "CSRF token missing or wrong."}
        assert (await app_client.post(path, headers={"X-CSRF-Token": "x" * 43})).status_code == 403
        assert (await app_client.post(path, headers={"X-CSRF-Token": csrf})).status_code == 200
    assert (await app_client.post("/notes", data={"csrf_token": csrf})).status_code == 200


async def test_a_stale_access_cookie_is_no_credential(
    app_client: httpx.AsyncClient, clock: FrozenClock
) -> None:
    await register(app_client, "ada@example.com")
    await _cookie_login(app_client)
    clock.advance(400)
    assert (await app_client.get("/maybe")).json() == {"id": None}
    response = await app_client.get("/whoami")
    assert response.status_code == 401


async def test_a_session_cookie_wins_and_a_stale_one_falls_through(
    app_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    ada_id = await register(app_client, "ada@example.com")
    bob_id = await register(app_client, "bob@example.com")
    await _cookie_login(app_client, "bob@example.com")
    await session_login(app_client, "ada@example.com")
    assert (await app_client.get("/whoami")).json()["id"] == ada_id
    assert (await app_client.get("/api")).json() == {"id": bob_id}  # token_user: the token
    session_id = app_client.cookies.get("__Host-authward_session")
    assert session_id is not None
    await runtime.sessions.end(session_id)
    who = (await app_client.get("/whoami")).json()
    assert who["id"] == bob_id and who["via"] == "jwt"


async def test_without_the_setting_the_dependencies_ignore_the_cookie(
    tmp_path: object, clock: FrozenClock
) -> None:
    runtime = build_runtime(make_settings(tmp_path), clock=clock)
    await runtime.open(background=False)
    try:
        async with user_client(make_app(Authward.from_runtime(runtime))) as client:
            await register(client, "ada@example.com")
            body = {"email": "ada@example.com", "password": PASSWORD}
            token = (await client.post("/auth/token", json=body)).json()["access_token"]
            cookie = {"Cookie": f"__Host-authward_access={token}"}
            assert (await client.get("/whoami", headers=cookie)).status_code == 401
            assert (await client.get("/api", headers=cookie)).status_code == 401
    finally:
        await runtime.close()


async def test_middleware_puts_the_cookie_caller_on_scope(web: httpx.AsyncClient) -> None:
    user_id = await register(web, "ada@example.com")
    csrf = await _cookie_login(web)
    who = (await web.get("/who")).json()
    assert who["authenticated"] and who["id"] == user_id
    assert who["scopes"] == ["authenticated", "jwt"]
    # A form's csrf_token field is read by the middleware, and the body replayed.
    saved = await web.post("/save", data={"text": "hello", "csrf_token": csrf})
    assert saved.json() == {"text": "hello", "id": user_id}
    # Without it the cookie caller is anonymous here.
    assert (await web.post("/save", data={"text": "hello"})).status_code == 401
