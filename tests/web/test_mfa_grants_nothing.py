"""The half-signed-in state grants nothing: an mfa_token is no credential anywhere else.

After the right password for an account with a factor, the client holds an ``mfa_token``
and nothing more. Presented as a bearer token or as the session cookie, to every route
that needs a signed-in user, it gets a 401 (or, for a page, the sign-in page); and the
client's own jar after the first step holds nothing that signs it in either.
"""

from __future__ import annotations

import httpx
import pytest

from authward.clock import FrozenClock
from authward.runtime import Runtime
from tests.integration.conftest import make_app, user_client
from tests.web.helpers import COOKIE, PASSWORD
from tests.web.mfa_helpers import enrolled, first_step

EMAIL = "ada@example.com"
PROTECTED = [
    ("GET", "/auth/me"),
    ("GET", "/auth/sessions"),
    ("POST", "/auth/logout-all"),
    ("POST", "/auth/password"),
    ("GET", "/auth/factors"),
    ("POST", "/auth/factors/recovery-codes"),
    ("POST", "/auth/token/revoke"),
]
BODY = {"current_password": PASSWORD, "new_password": "another long password"}


@pytest.fixture
async def mfa_token(client: httpx.AsyncClient, clock: FrozenClock) -> str:
    await enrolled(client, clock, EMAIL)
    token = await first_step(client, EMAIL)
    assert not client.cookies.get(COOKIE)  # the first step set no session cookie
    return token


@pytest.mark.parametrize(("method", "path"), PROTECTED)
async def test_as_a_bearer_token_it_is_refused(
    client: httpx.AsyncClient, mfa_token: str, method: str, path: str
) -> None:
    headers = {"Authorization": f"Bearer {mfa_token}"}
    response = await client.request(method, path, json=BODY, headers=headers)
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize(("method", "path"), PROTECTED)
async def test_as_the_session_cookie_it_is_refused(
    client: httpx.AsyncClient, mfa_token: str, method: str, path: str
) -> None:
    headers = {"Cookie": f"{COOKIE}={mfa_token}", "X-CSRF-Token": "anything"}
    response = await client.request(method, path, json=BODY, headers=headers)
    assert response.status_code in (401, 403), response.text  # 403: no CSRF token holds
    if method == "GET":
        assert response.status_code == 401


@pytest.mark.parametrize(("method", "path"), PROTECTED)
async def test_after_the_first_step_the_client_holds_nothing_that_signs_in(
    client: httpx.AsyncClient, mfa_token: str, method: str, path: str
) -> None:
    response = await client.request(method, path, json=BODY)
    assert response.status_code == 401, response.text


async def test_the_account_page_sends_it_to_sign_in(
    client: httpx.AsyncClient, mfa_token: str
) -> None:
    for headers in ({"Cookie": f"{COOKIE}={mfa_token}"}, {"Authorization": f"Bearer {mfa_token}"}):
        response = await client.get("/account", headers=headers)
        assert response.status_code == 303 and response.headers["location"].startswith("/login")


async def test_an_app_route_behind_current_user_refuses_it(
    runtime: Runtime, client: httpx.AsyncClient, mfa_token: str
) -> None:
    from authward import Authward

    async with user_client(make_app(Authward.from_runtime(runtime))) as app:
        for headers in (
            {"Authorization": f"Bearer {mfa_token}"},
            {"Cookie": f"{COOKIE}={mfa_token}"},
        ):
            response = await app.get("/whoami", headers=headers)
            assert response.status_code == 401, response.text
