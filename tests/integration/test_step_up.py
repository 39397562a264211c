"""Step-up in the user's own app: `auth.require(aal=..., max_age=...)` (RFC 9470).

No ``from __future__ import annotations`` here: FastAPI reads the routes' annotations,
which name the local `auth`, at definition time.
"""

from collections.abc import AsyncIterator
from typing import Annotated

import httpx
import pytest
from fastapi import Depends, FastAPI

from authward import AuthUser, Authward
from authward.clock import FrozenClock
from tests.integration.conftest import user_client
from tests.web.helpers import PASSWORD, register, session_login
from tests.web.mfa_helpers import enrolled, first_step

EMAIL = "ada@example.com"
CHALLENGE = (
    'Bearer error="insufficient_user_authentication", '
    'error_description="A more recent authentication is required."'
)


def step_up_app(auth: Authward) -> FastAPI:
    app = FastAPI()
    app.include_router(auth.router)

    @app.get("/settings")
    async def recent(user: Annotated[AuthUser, Depends(auth.require())]) -> dict[str, str]:
        return {"id": user.id}

    @app.post("/payout")
    async def strong(
        user: Annotated[AuthUser, Depends(auth.require(aal="aal2", max_age=60))],
    ) -> dict[str, str]:
        return {"id": user.id}

    return app


@pytest.fixture
async def client(auth: Authward) -> AsyncIterator[httpx.AsyncClient]:
    async with user_client(step_up_app(auth)) as c:
        yield c


async def test_a_session_older_than_the_max_age_gets_the_challenge(
    client: httpx.AsyncClient, clock: FrozenClock
) -> None:
    user_id = await register(client, EMAIL)
    await session_login(client, EMAIL)
    assert (await client.get("/settings")).json() == {"id": user_id}
    clock.advance(300)  # exactly AUTHWARD_REAUTH_MAX_AGE old: still recent
    assert (await client.get("/settings")).status_code == 200
    clock.advance(1)
    stale = await client.get("/settings")
    assert stale.status_code == 401
    # A cookie caller is told the same challenge as a bearer one (RFC 9470 §3).
    assert stale.headers["www-authenticate"] == f"{CHALLENGE}, max_age=300"
    # A fresh login is recent again.
    await session_login(client, EMAIL)
    assert (await client.get("/settings")).status_code == 200


async def test_a_bearer_token_of_an_old_login_gets_the_challenge_even_when_refreshed(
    client: httpx.AsyncClient, clock: FrozenClock
) -> None:
    await register(client, EMAIL)
    pair = (await client.post("/auth/token", json={"email": EMAIL, "password": PASSWORD})).json()
    bearer = {"Authorization": f"Bearer {pair['access_token']}"}
    assert (await client.get("/settings", headers=bearer)).status_code == 200
    clock.advance(301)
    # A refresh is no new authentication: the new access token keeps the old auth_time.
    refreshed = await client.post(
        "/auth/token/refresh", json={"refresh_token": pair["refresh_token"]}
    )
    assert refreshed.status_code == 200, refreshed.text
    bearer = {"Authorization": f"Bearer {refreshed.json()['access_token']}"}
    stale = await client.get("/settings", headers=bearer)
    assert stale.status_code == 401
    assert stale.headers["www-authenticate"] == f"{CHALLENGE}, max_age=300"


async def test_a_required_level_asks_for_it_with_acr_values(
    client: httpx.AsyncClient, clock: FrozenClock
) -> None:
    await register(client, EMAIL)
    csrf = await session_login(client, EMAIL)
    weak = await client.post("/payout", headers={"X-CSRF-Token": csrf})
    assert weak.status_code == 401
    assert weak.headers["www-authenticate"] == f'{CHALLENGE}, acr_values="aal2", max_age=60'


async def test_two_factors_pass_the_level_while_recent(
    client: httpx.AsyncClient, clock: FrozenClock
) -> None:
    ada = await enrolled(client, clock, EMAIL)
    mfa_token = await first_step(client, EMAIL)
    done = await client.post(
        "/auth/mfa", json={"mfa_token": mfa_token, "code": ada.code(clock.now())}
    )
    csrf = done.json()["csrf_token"]
    strong = await client.post("/payout", headers={"X-CSRF-Token": csrf})
    assert strong.json() == {"id": ada.user_id}
    clock.advance(61)
    stale = await client.post("/payout", headers={"X-CSRF-Token": csrf})
    assert stale.status_code == 401
    assert stale.headers["www-authenticate"] == f"{CHALLENGE}, max_age=60"


async def test_no_credential_is_a_plain_401_not_a_step_up(client: httpx.AsyncClient) -> None:
    response = await client.get("/settings")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
