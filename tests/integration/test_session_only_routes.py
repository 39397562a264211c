"""A session-only route ignores the token cookie: 401, never a CSRF 403 for a credential
it would not take, with or without `AuthwardMiddleware` in front.

No ``from __future__ import annotations`` here: FastAPI reads the route's annotations.
"""

from collections.abc import AsyncIterator
from typing import Annotated

import httpx
import pytest
from fastapi import Depends, FastAPI

from authward import AuthUser, Authward, AuthwardMiddleware
from authward.runtime import Runtime
from authward.settings import Settings
from tests.conftest import make_settings
from tests.integration.conftest import user_client
from tests.web.helpers import PASSWORD, register, session_login


@pytest.fixture
def settings(tmp_path: object) -> Settings:
    return make_settings(tmp_path, token_cookies=True)


def session_only_app(auth: Authward, *, middleware: bool) -> FastAPI:
    app = FastAPI()
    app.include_router(auth.router)
    if middleware:
        app.add_middleware(AuthwardMiddleware, auth=auth)

    @app.post("/page")
    async def page(user: Annotated[AuthUser, Depends(auth.session_user)]) -> dict[str, str]:
        return {"id": user.id}

    return app


@pytest.fixture(params=[False, True], ids=["dependency", "middleware"])
async def client(
    runtime: Runtime, request: pytest.FixtureRequest
) -> AsyncIterator[httpx.AsyncClient]:
    app = session_only_app(Authward.from_runtime(runtime), middleware=request.param)
    async with user_client(app) as client:
        yield client


async def test_a_token_cookie_without_csrf_on_a_session_only_route_is_401(
    client: httpx.AsyncClient,
) -> None:
    await register(client, "ada@example.com")
    body = {"email": "ada@example.com", "password": PASSWORD}
    assert (await client.post("/auth/token", json=body)).status_code == 200  # cookies in the jar
    refused = await client.post("/page")
    assert refused.status_code == 401, refused.text
    assert refused.json()["detail"] == "Not authenticated."


async def test_the_session_beside_it_still_needs_its_own_csrf_token(
    client: httpx.AsyncClient,
) -> None:
    user_id = await register(client, "ada@example.com")
    csrf = await session_login(client, "ada@example.com")
    assert (await client.post("/page")).status_code == 403
    answer = await client.post("/page", headers={"X-CSRF-Token": csrf})
    assert answer.json() == {"id": user_id}
