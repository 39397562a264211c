"""An app of the user's own, with authward added the documented way.

No ``from __future__ import annotations`` here: FastAPI reads the routes' annotations,
which name the local `auth`, at definition time.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

import httpx
import pytest
from fastapi import Depends, FastAPI, Request

from authward import Account, AuthUser, Authward
from authward.runtime import Runtime
from tests.web.helpers import PASSWORD

__all__ = ["PASSWORD", "make_app", "user_client"]


def make_app(auth: Authward) -> FastAPI:
    """A FastAPI app with nothing of authward's but its router and dependencies."""
    app = FastAPI()
    app.include_router(auth.router)

    @app.get("/whoami")
    async def whoami(user: Annotated[AuthUser, Depends(auth.current_user)]) -> dict[str, str]:
        return {"id": user.id, "via": user.via, "handle": user.handle}

    @app.post("/notes")
    async def add_note(user: Annotated[AuthUser, Depends(auth.current_user)]) -> dict[str, str]:
        return {"saved_for": user.id}

    @app.api_route("/direct", methods=["GET", "POST"])
    async def direct(request: Request) -> dict[str, str]:
        user = await auth.current_user(request)  # the same function, awaited directly
        return {"id": user.id, "via": user.via}

    @app.get("/maybe")
    async def maybe(
        user: Annotated[AuthUser | None, Depends(auth.optional_user)],
    ) -> dict[str, str | None]:
        return {"id": user.id if user else None}

    @app.get("/page")
    async def page(user: Annotated[AuthUser, Depends(auth.session_user)]) -> dict[str, str]:
        return {"id": user.id}

    @app.get("/api")
    async def api(user: Annotated[AuthUser, Depends(auth.token_user)]) -> dict[str, str]:
        return {"id": user.id}

    @app.get("/account")
    async def account(
        request: Request, user: Annotated[Account, Depends(auth.current_account)]
    ) -> dict[str, str | None]:
        return {"email": user.email, "csrf": auth.csrf_token(request)}

    return app


@asynccontextmanager
async def user_client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=("198.51.100.4", 4000))
    async with httpx.AsyncClient(transport=transport, base_url="https://app.test") as client:
        yield client


@pytest.fixture
def auth(runtime: Runtime) -> Authward:
    return Authward.from_runtime(runtime)


@pytest.fixture
async def app_client(auth: Authward) -> AsyncIterator[httpx.AsyncClient]:
    async with user_client(make_app(auth)) as client:
        yield client
