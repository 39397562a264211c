"""Step-up in the user's own app: `auth.require(aal=..., max_age=...)` (RFC 9470).

No ``from __future__ import annotations`` here: FastAPI reads the routes' annotations,
which name the local `auth`, at definition time.
"""

from collections.abc import AsyncIterator
from typing import Annotated

import httpx
import jwt
import pytest
from fastapi import Depends, FastAPI

from authward import AuthUser, Authward
from authward.clock import FrozenClock
from authward.runtime import Runtime
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


async def _tokens(client: httpx.AsyncClient) -> dict[str, str]:
    response = await client.post("/auth/token", json={"email": EMAIL, "password": PASSWORD})
    assert response.status_code == 200, response.text
    pair: dict[str, str] = response.json()
    return pair


async def test_reauth_makes_a_bearer_login_recent_and_its_refreshes_keep_it(
    client: httpx.AsyncClient, clock: FrozenClock
) -> None:
    await register(client, EMAIL)
    pair = await _tokens(client)
    login_at = int(clock.now().timestamp())
    clock.advance(301)
    # The access token has expired too (AUTHWARD_ACCESS_TTL): a refresh keeps the old login.
    renewed = await client.post(
        "/auth/token/refresh", json={"refresh_token": pair["refresh_token"]}
    )
    pair = renewed.json()
    bearer = {"Authorization": f"Bearer {pair['access_token']}"}
    assert (await client.get("/settings", headers=bearer)).status_code == 401
    wrong = await client.post("/auth/reauth", json={"password": "not it at all"}, headers=bearer)
    assert wrong.status_code == 403
    done = await client.post("/auth/reauth", json={"password": PASSWORD}, headers=bearer)
    assert done.status_code == 200, done.text
    assert done.headers["cache-control"] == "no-store"
    fresh = done.json()["access_token"]
    claims = jwt.decode(fresh, options={"verify_signature": False})
    assert claims["auth_time"] == int(clock.now().timestamp()) > login_at
    assert (claims["amr"], claims["acr"]) == (["pwd"], "aal1")
    assert (
        await client.get("/settings", headers={"Authorization": f"Bearer {fresh}"})
    ).status_code == 200
    # A pair of the same family: its new refresh token works, and says the new auth time.
    assert (
        claims["sid"]
        == jwt.decode(pair["access_token"], options={"verify_signature": False})["sid"]
    )
    refreshed = await client.post(
        "/auth/token/refresh", json={"refresh_token": done.json()["refresh_token"]}
    )
    assert refreshed.status_code == 200, refreshed.text
    again = jwt.decode(refreshed.json()["access_token"], options={"verify_signature": False})
    assert (again["sid"], again["auth_time"]) == (claims["sid"], claims["auth_time"])


async def test_reauth_spends_the_refresh_token_and_its_reuse_revokes_the_family(
    client: httpx.AsyncClient, clock: FrozenClock
) -> None:
    await register(client, EMAIL)
    pair = await _tokens(client)
    bearer = {"Authorization": f"Bearer {pair['access_token']}"}
    done = await client.post("/auth/reauth", json={"password": PASSWORD}, headers=bearer)
    assert done.status_code == 200, done.text
    renewed = done.json()
    assert renewed["refresh_token"] != pair["refresh_token"]
    clock.advance(60)  # past AUTHWARD_REFRESH_GRACE: the old token is a thief's now
    reused = await client.post("/auth/token/refresh", json={"refresh_token": pair["refresh_token"]})
    assert reused.status_code == 401
    # Theft detection as after any refresh: the whole family is gone, its new pair too.
    gone = await client.post(
        "/auth/token/refresh", json={"refresh_token": renewed["refresh_token"]}
    )
    assert gone.status_code == 401
    access = {"Authorization": f"Bearer {renewed['access_token']}"}
    assert (await client.get("/auth/me", headers=access)).status_code == 401


async def test_reauth_keeps_the_logins_level(client: httpx.AsyncClient, clock: FrozenClock) -> None:
    ada = await enrolled(client, clock, EMAIL)
    mfa_token = await first_step(client, EMAIL, "/auth/token")
    done = await client.post(
        "/auth/mfa", json={"mfa_token": mfa_token, "code": ada.code(clock.now())}
    )
    bearer = {"Authorization": f"Bearer {done.json()['access_token']}"}
    clock.advance(61)
    assert (await client.post("/payout", headers=bearer)).status_code == 401
    stepped = await client.post("/auth/reauth", json={"password": PASSWORD}, headers=bearer)
    assert stepped.status_code == 200, stepped.text
    fresh = {"Authorization": f"Bearer {stepped.json()['access_token']}"}
    assert (await client.post("/payout", headers=fresh)).json() == {"id": ada.user_id}


async def test_reauth_wrong_passwords_are_counted_as_failed_logins(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await register(client, EMAIL)
    bearer = {"Authorization": f"Bearer {(await _tokens(client))['access_token']}"}
    statuses = [
        (
            await client.post("/auth/reauth", json={"password": "wrong guess"}, headers=bearer)
        ).status_code
        for _ in range(runtime.settings.login_max_failures)
    ]
    assert set(statuses) == {403}
    # Past the limit even the right password is refused: no free guesses here.
    last = await client.post("/auth/reauth", json={"password": PASSWORD}, headers=bearer)
    assert last.status_code == 429


async def test_a_session_reauth_answers_the_apps_own_step_up_route(
    client: httpx.AsyncClient, clock: FrozenClock
) -> None:
    await register(client, EMAIL)
    csrf = await session_login(client, EMAIL)
    clock.advance(301)
    assert (await client.get("/settings")).status_code == 401
    done = await client.post(
        "/auth/reauth", json={"password": PASSWORD}, headers={"X-CSRF-Token": csrf}
    )
    assert done.status_code == 204, done.text
    assert (await client.get("/settings")).status_code == 200
    # A step-up makes a login recent, never stronger: a password login stays aal1.
    weak = await client.post("/payout", headers={"X-CSRF-Token": csrf})
    assert weak.status_code == 401
    assert weak.headers["www-authenticate"] == f'{CHALLENGE}, acr_values="aal2", max_age=60'


async def test_a_code_reauth_of_a_two_factor_session_passes_the_level_again(
    client: httpx.AsyncClient, clock: FrozenClock
) -> None:
    ada = await enrolled(client, clock, EMAIL)
    mfa_token = await first_step(client, EMAIL)
    done = await client.post(
        "/auth/mfa", json={"mfa_token": mfa_token, "code": ada.code(clock.now())}
    )
    csrf = {"X-CSRF-Token": done.json()["csrf_token"]}
    clock.advance(61)
    assert (await client.post("/payout", headers=csrf)).status_code == 401
    stepped = await client.post("/auth/reauth", json={"code": ada.code(clock.now())}, headers=csrf)
    assert stepped.status_code == 204, stepped.text
    assert (await client.post("/payout", headers=csrf)).json() == {"id": ada.user_id}
