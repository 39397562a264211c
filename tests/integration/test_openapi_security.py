"""Issue 18.3: the OpenAPI document declares authward's credentials as security schemes
and attaches them, so /docs can authorize: for authward's routes, and for the app's own
routes behind authward's dependencies.

No ``from __future__ import annotations``: FastAPI reads the routes' annotations.
"""

from pathlib import Path
from typing import Annotated, Any

import httpx
import pytest
from fastapi import Depends, FastAPI

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
def test_the_apps_own_routes_carry_the_schemes_of_their_dependency(runtime: Runtime) -> None:
    document = make_app(Authward.from_runtime(runtime)).openapi()
    assert set(document["components"]["securitySchemes"]) == {"bearerAuth", "sessionCookie"}
    assert security(document, "get", "/whoami") == [BEARER, COOKIE]  # current_user
    assert security(document, "post", "/notes") == [BEARER, COOKIE]
    assert security(document, "get", "/maybe") == [BEARER, COOKIE]  # optional_user
    assert security(document, "get", "/account") == [BEARER, COOKIE]  # current_account
    assert security(document, "get", "/page") == [COOKIE]  # session_user
    assert security(document, "get", "/api") == [BEARER]  # token_user
    assert security(document, "get", "/direct") == []  # awaited inside: nothing to see


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
