"""Who a page sees: the Authenticator's `AuthUser`, by the session cookie alone."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from authward.clock import FrozenClock
from authward.runtime import Runtime, build_runtime
from tests.conftest import http_client, make_settings
from tests.pages.helpers import PASSWORD, account_token, post_form, sign_up

CREDENTIALS = {"email": "ada@example.com", "password": PASSWORD}


@pytest.fixture
async def token_cookie_client(
    tmp_path: object, clock: FrozenClock
) -> AsyncIterator[httpx.AsyncClient]:
    runtime: Runtime = build_runtime(make_settings(tmp_path, token_cookies=True), clock=clock)
    await runtime.open(background=False)
    try:
        async with http_client(runtime) as client:
            yield client
    finally:
        await runtime.close()


async def test_an_authorization_header_does_not_sign_a_browser_out_of_the_pages(
    client: httpx.AsyncClient,
) -> None:
    # A site behind HTTP Basic auth: the browser sends this header with every request.
    await sign_up(client, "ada@example.com")
    basic = {"Authorization": "Basic YWRhOnNlY3JldA=="}
    response = await client.get("/account", headers=basic)
    assert response.status_code == 200 and "ada@example.com" in response.text


async def test_a_token_cookie_alone_is_nobody_to_the_pages(
    token_cookie_client: httpx.AsyncClient,
) -> None:
    client = token_cookie_client
    await sign_up(client, "ada@example.com")
    signed_out = await post_form(client, "/logout", {"csrf_token": await account_token(client)})
    assert signed_out.status_code == 303
    assert (await client.post("/auth/token", json=CREDENTIALS)).status_code == 200
    assert client.cookies.get("__Host-authward_access") is not None
    response = await client.get("/account")
    assert response.status_code == 303 and response.headers["location"].startswith("/login")
    # ...and a page's POST with it asks for no CSRF token: there is no one to check it for.
    refused = await post_form(client, "/account/sign-out-everywhere", {})
    assert refused.status_code == 303 and refused.headers["location"].startswith("/login")
    assert (await client.get("/auth/me")).status_code == 200  # the token still works


async def test_an_ended_sessions_logout_only_clears_the_cookie(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await sign_up(client, "ada@example.com")
    session_id = client.cookies.get("__Host-authward_session")
    assert session_id is not None
    await runtime.sessions.end(session_id)
    response = await post_form(client, "/logout", {})
    assert response.status_code == 303 and response.headers["location"] == "/login"
    assert client.cookies.get("__Host-authward_session") is None
