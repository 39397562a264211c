"""No redirect is built from the request's Host header.

FastAPI and Starlette answer a path whose trailing slash is off by one with a 307 to an
absolute URL made from ``Host``: ``GET /login/`` with ``Host: evil.example`` once got
``Location: https://evil.example/login``, and a 307 makes the browser repeat a POST with
its body. authward's apps now answer such paths 404, and `Authward.router` claims the
twins of its own paths inside an app that keeps the redirects on.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI, Request
from starlette.applications import Starlette
from starlette.routing import Mount

from authward import Authward
from authward.runtime import Runtime, build_runtime
from authward.web import api, token_api
from authward.web.routing import slash_twins
from tests.conftest import http_client, make_settings
from tests.integration.conftest import make_app

EVIL = {"host": "evil.example"}
PAGES = ["/login", "/register", "/logout", "/account", "/account/sign-out", "/how", "/static"]


def twin(path: str) -> str:
    return path.rstrip("/") if path.endswith("/") else path + "/"


def assert_no_redirect(response: httpx.Response) -> None:
    request = response.request
    assert "location" not in response.headers, (request.method, request.url.path)
    assert response.status_code in (404, 405), (request.method, request.url.path, response.text)


@pytest.fixture
async def service(tmp_path: object) -> AsyncIterator[httpx.AsyncClient]:
    """The whole service, the /how demo included."""
    runtime = build_runtime(make_settings(tmp_path, demo_pages=True))
    await runtime.open(background=False)
    try:
        async with http_client(runtime) as client:
            yield client
    finally:
        await runtime.close()


async def test_no_path_of_the_service_redirects_to_the_host_header(
    service: httpx.AsyncClient,
) -> None:
    document = (await service.get("/openapi.json")).json()
    paths = [path.replace("{handle}", "x") for path in document["paths"]] + PAGES
    for path in paths:
        for method in ("GET", "POST"):
            assert_no_redirect(await service.request(method, twin(path), headers=EVIL))


async def test_a_post_to_a_twin_path_is_not_sent_on_with_its_body(
    service: httpx.AsyncClient,
) -> None:
    body = {"email": "ada@example.com", "password": "correct horse battery staple"}
    for path in ("/auth/session/login/", "/auth/token/", "/login/"):
        assert_no_redirect(await service.post(path, json=body, headers=EVIL))


async def test_the_pages_own_redirects_are_paths_on_this_site(service: httpx.AsyncClient) -> None:
    for method, path in (("GET", "/account"), ("GET", "/how"), ("POST", "/logout")):
        response = await service.request(method, path, headers=EVIL)
        assert response.status_code == 303, (method, path)
        location = response.headers["location"]
        assert location.startswith("/") and not location.startswith("//"), location
        assert "evil.example" not in location


async def test_authwards_router_in_an_app_that_redirects_slashes(runtime: Runtime) -> None:
    """The app is someone else's (FastAPI's default, redirect_slashes on): our paths 404."""
    app = make_app(Authward.from_runtime(runtime))
    transport = httpx.ASGITransport(app=app, client=("198.51.100.4", 4000))
    async with httpx.AsyncClient(transport=transport, base_url="https://app.test") as client:
        for method, path in (
            ("GET", "/auth/me/"),
            ("GET", "/auth/me//"),
            ("POST", "/auth/session/login/"),
            ("POST", "/auth/token/"),
            ("DELETE", "/auth/sessions/x/"),
            ("GET", "/.well-known/jwks.json/"),
        ):
            assert_no_redirect(await client.request(method, path, headers=EVIL))
        assert (await client.get("/auth/me", headers=EVIL)).status_code == 401  # still served
        assert (await client.get("/auth/sessions/x", headers=EVIL)).status_code == 405


async def test_a_strategy_left_out_leaves_no_twin_to_redirect_to(runtime: Runtime) -> None:
    app = make_app(Authward.from_runtime(runtime, strategies={"session"}))
    transport = httpx.ASGITransport(app=app, client=("198.51.100.4", 4000))
    async with httpx.AsyncClient(transport=transport, base_url="https://app.test") as client:
        for path in ("/auth/token", "/auth/token/", "/.well-known/jwks.json"):
            assert_no_redirect(await client.post(path, headers=EVIL))


async def test_the_mounted_api_does_not_redirect(runtime: Runtime) -> None:
    app = Starlette(routes=[Mount("/", app=Authward.from_runtime(runtime).asgi_app)])
    transport = httpx.ASGITransport(app=app, client=("198.51.100.4", 4000))
    async with httpx.AsyncClient(transport=transport, base_url="https://app.test") as client:
        for method, path in (("GET", "/auth/me/"), ("POST", "/auth/token/"), ("GET", "/x/")):
            assert_no_redirect(await client.request(method, path, headers=EVIL))


def test_the_twins_of_every_path_are_one_route() -> None:
    """Every request to an app's routes declared after authward's walks past the twins:
    one route with one pattern, not a route per path (that cost such a request ~15 µs)."""
    twins = slash_twins(api.router, api.session_router, token_api.router)
    assert len(twins.routes) == 1
    pattern = twins.routes[0].path_regex  # type: ignore[attr-defined]
    for path in ("/auth/me/", "/auth/me//", "/auth/token/", "/auth/sessions/x/"):
        assert pattern.match(path), path
    for path in ("/auth/me", "/auth/sessions/x", "/notes/", "/auth/men/"):
        assert not pattern.match(path), path


async def test_the_apps_own_routes_around_authwards_are_reached(runtime: Runtime) -> None:
    """authward's router turns away paths outside its segments at once (`GatedRouter`):
    the app's routes declared after it, even under a look-alike prefix, and the ones
    declared before it, are all reached; authward's own paths and twins still answer."""
    auth = Authward.from_runtime(runtime)
    app = FastAPI()

    @app.get("/first")
    async def first() -> dict[str, str]:
        return {"at": "first"}

    app.include_router(auth.router)

    for path in ("/after", "/authors", "/auth-app/x", "/.well-known/other"):

        @app.get(path)
        async def after(request: Request) -> dict[str, str]:
            return {"at": request.url.path}

    assert auth.router.gate == ("/.well-known", "/auth")  # type: ignore[attr-defined]
    transport = httpx.ASGITransport(app=app, client=("198.51.100.4", 4000))
    async with httpx.AsyncClient(transport=transport, base_url="https://app.test") as client:
        assert (await client.get("/first")).json() == {"at": "first"}
        for path in ("/after", "/authors", "/auth-app/x", "/.well-known/other"):
            assert (await client.get(path)).json() == {"at": path}
        assert (await client.get("/auth/me")).status_code == 401
        assert (await client.get("/.well-known/jwks.json")).status_code == 200
        assert_no_redirect(await client.get("/auth/me/", headers=EVIL))
