"""Issue 18.3: the OpenAPI document declares authward's credentials as security schemes
and attaches them, so /docs can authorize: for authward's routes, and for the app's own
routes behind authward's dependencies.

No ``from __future__ import annotations``: FastAPI reads the routes' annotations.
"""

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

import httpx
import pytest
from fastapi import Depends, FastAPI
from fastapi.dependencies.utils import get_dependant
from starlette.applications import Starlette
from starlette.routing import Mount

from authward import AuthUser, Authward
from authward.runtime import Runtime
from authward.web.apidoc import service_openapi
from tests.conftest import make_settings
from tests.integration.conftest import make_app

BEARER = {"bearerAuth": []}
COOKIE = {"sessionCookie": []}


def security(document: dict[str, Any], method: str, path: str) -> list[dict[str, list[str]]]:
    found: list[dict[str, list[str]]] = document["paths"][path][method].get("security", [])
    return found


@pytest.fixture(scope="module")
def service_document() -> dict[str, Any]:
    """`authward serve`'s document, built once for the module: building it takes a whole
    app, and each case only reads it."""
    return service_openapi()


def test_the_schemes_are_declared(service_document: dict[str, Any]) -> None:
    schemes = service_document["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": schemes["bearerAuth"]["description"],
    }
    assert schemes["sessionCookie"]["type"] == "apiKey"
    assert schemes["sessionCookie"]["in"] == "cookie"
    assert schemes["sessionCookie"]["name"] == "__Host-authward_session"
    assert schemes["metricsToken"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "AUTHWARD_METRICS_TOKEN, when it is set.",
    }


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("get", "/auth/me", [BEARER, COOKIE]),
        ("get", "/auth/sessions", [BEARER, COOKIE]),
        ("delete", "/auth/sessions/{handle}", [BEARER, COOKIE]),
        ("post", "/auth/logout-all", [BEARER, COOKIE]),
        ("post", "/auth/password", [BEARER, COOKIE]),
        ("post", "/auth/session/logout", [BEARER, COOKIE]),
        ("post", "/auth/token/revoke", [BEARER, {}]),  # or a refresh token in the body
        ("get", "/metrics", [{"metricsToken": []}]),
        ("post", "/auth/register", []),
        ("post", "/auth/session/login", []),
        ("post", "/auth/token", []),
        ("post", "/auth/token/refresh", []),
        ("get", "/.well-known/jwks.json", []),
        ("get", "/healthz", []),
    ],
)
def test_authwards_routes_carry_their_schemes(
    service_document: dict[str, Any], method: str, path: str, expected: object
) -> None:
    assert security(service_document, method, path) == expected


async def test_the_service_serves_the_same_document(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    assert set(document["components"]["securitySchemes"]) >= {"bearerAuth", "sessionCookie"}
    assert security(document, "get", "/auth/me") == [BEARER, COOKIE]


# make_app's /direct answers GET and POST from one function: one operation id for two.
@pytest.mark.filterwarnings("ignore:Duplicate Operation ID")
async def test_the_apps_own_routes_carry_the_schemes_of_their_dependency(
    runtime: Runtime,
) -> None:
    """The README's way: the app's lifespan is authward's, and it documents the cookie."""
    auth = Authward.from_runtime(runtime)
    app = make_app(auth)
    async with auth.lifespan(app):
        document = app.openapi()
    assert set(document["components"]["securitySchemes"]) == {"bearerAuth", "sessionCookie"}
    assert document["components"]["securitySchemes"]["sessionCookie"]["in"] == "cookie"
    assert security(document, "get", "/whoami") == [BEARER, COOKIE]  # current_user
    assert security(document, "post", "/notes") == [BEARER, COOKIE]
    assert security(document, "get", "/maybe") == [BEARER, COOKIE]  # optional_user
    assert security(document, "get", "/account") == [BEARER, COOKIE]  # current_account
    assert security(document, "get", "/page") == [COOKIE]  # session_user
    assert security(document, "get", "/api") == [BEARER]  # token_user
    assert security(document, "get", "/direct") == []  # awaited inside: nothing to see
    assert security(document, "get", "/auth/me") == [BEARER, COOKIE]  # authward's router
    assert "authward:" not in json.dumps(document)  # no working name left in it


@pytest.mark.filterwarnings("ignore:Duplicate Operation ID")
def test_an_app_never_started_is_documented_on_demand(runtime: Runtime) -> None:
    """A document built offline (no lifespan): the bearer alone, until `document`; a
    document FastAPI kept from before is built again; twice changes nothing."""
    auth = Authward.from_runtime(runtime)
    app = make_app(auth)
    assert security(app.openapi(), "get", "/whoami") == [BEARER]
    assert security(app.openapi(), "get", "/page") == [COOKIE]
    auth.document(app)
    auth.document(app)
    document = app.openapi()
    assert security(document, "get", "/whoami") == [BEARER, COOKIE]
    assert security(app.openapi(), "get", "/whoami") == [BEARER, COOKIE]  # kept as is
    assert set(document["components"]["securitySchemes"]) == {"bearerAuth", "sessionCookie"}


async def test_lifespan_with_and_mounted_apps_are_documented(runtime: Runtime) -> None:
    auth = Authward.from_runtime(runtime)
    inner = FastAPI()

    @inner.get("/notes")
    async def notes(user: Annotated[AuthUser, Depends(auth.current_user)]) -> dict[str, str]:
        return {"owner": user.id}

    @asynccontextmanager
    async def own(app: FastAPI) -> AsyncIterator[None]:
        yield

    outer = FastAPI(lifespan=auth.lifespan_with(own))
    outer.mount("/api", inner)
    async with auth.lifespan_with(own)(outer):
        pass
    assert security(inner.openapi(), "get", "/notes") == [BEARER, COOKIE]

    starlette_inner = FastAPI()
    starlette_inner.get("/notes")(notes)
    starlette_outer = Starlette(routes=[Mount("/api", app=starlette_inner)])
    async with auth.lifespan(starlette_outer):
        pass
    assert security(starlette_inner.openapi(), "get", "/notes") == [BEARER, COOKIE]


def test_the_checks_cost_fastapi_no_dependency_of_their_own(runtime: Runtime) -> None:
    """What keeps ``Depends(auth.current_user)`` one solve of FastAPI's a request, not
    two: the cookie is written into the document, not declared as a dependency."""
    auth = Authward.from_runtime(runtime)
    checks = [auth.current_user, auth.optional_user, auth.session_user, auth.token_user]
    checks += [auth.current_account, auth.require(max_age=60)]
    for check in checks:
        dependant = get_dependant(path="/", call=check)
        assert dependant.dependencies == []
        assert dependant.request_param_name == "request"


def test_a_token_only_app_offers_only_the_bearer(tmp_path: Path) -> None:
    auth = Authward(make_settings(tmp_path), strategies={"jwt"})
    app = FastAPI()

    @app.get("/whoami")
    async def whoami(user: Annotated[AuthUser, Depends(auth.current_user)]) -> dict[str, str]:
        return {"id": user.id}

    assert security(app.openapi(), "get", "/whoami") == [BEARER]


async def test_the_documented_dependency_still_decides(runtime: Runtime) -> None:
    """The schemes are documentation: the check behind them is unchanged."""
    app = make_app(Authward.from_runtime(runtime))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as client:
        anonymous = await client.get("/whoami")
        forged = await client.get("/whoami", headers={"Authorization": "Bearer x.y.z"})
        cookie = await client.get("/whoami", headers={"Cookie": "__Host-authward_session=nope"})
    assert anonymous.status_code == forged.status_code == cookie.status_code == 401
