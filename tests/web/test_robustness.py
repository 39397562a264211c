"""Malformed input never gets a 500; limits hold before any parsing."""

from __future__ import annotations

from dataclasses import replace

import httpx
import pytest

from authward.runtime import Runtime
from authward.web.limits import json_too_deep
from tests.conftest import http_client


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b"", "application/json"),
        (b"{", "application/json"),
        (b"null", "application/json"),
        (b"[1, 2]", "application/json"),
        (b'"just a string"', "application/json"),
        (b"\xff\xfe\x00", "application/json"),
        (b"email=a", "application/x-www-form-urlencoded"),
        (b"--x\r\nbroken", "multipart/form-data; boundary=x"),
        (b"<xml/>", "application/xml"),
    ],
)
@pytest.mark.parametrize("path", ["/auth/session/login", "/auth/register", "/auth/token"])
async def test_garbage_bodies_get_a_4xx(
    client: httpx.AsyncClient, path: str, content: bytes, content_type: str
) -> None:
    response = await client.post(path, content=content, headers={"Content-Type": content_type})
    assert 400 <= response.status_code < 500, response.text
    assert "detail" in response.json()


async def test_deeply_nested_json_is_refused_before_parsing(client: httpx.AsyncClient) -> None:
    body = b"[" * 5000 + b"]" * 5000
    response = await client.post(
        "/auth/session/login", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422


async def test_oversized_body_is_413(client: httpx.AsyncClient, runtime: Runtime) -> None:
    body = b'{"email": "' + b"a" * runtime.settings.max_body_bytes + b'"}'
    response = await client.post(
        "/auth/register", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413


async def test_streamed_oversized_body_is_413(client: httpx.AsyncClient, runtime: Runtime) -> None:
    async def chunks() -> object:
        for _ in range(runtime.settings.max_body_bytes // 1000 + 2):
            yield b"x" * 1000

    response = await client.post(
        "/auth/register", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413


@pytest.mark.parametrize(
    "authorization",
    ["Bearer", "Bearer ", "Basic abc", "Bearer a.b", "Bearer " + "a" * 10_000, "bearer ...."],
)
async def test_bad_authorization_headers_are_401_with_challenge(
    client: httpx.AsyncClient, authorization: str
) -> None:
    response = await client.get("/auth/me", headers={"Authorization": authorization})
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_json_depth_scanner_ignores_brackets_in_strings() -> None:
    assert not json_too_deep(b'{"a": "' + b"[" * 100 + b'"}')
    assert json_too_deep(b"[" * 33)
    assert not json_too_deep(b"[" * 32 + b"]" * 32)
    assert not json_too_deep(b'{"a": "\\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}')


async def test_healthz_reports_each_store(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["stores"]["database"] == "ok"


async def test_healthz_is_503_when_the_database_is_gone(runtime: Runtime) -> None:
    from authward.storage.sql import create_engine

    # The runtime is frozen: the same one, but for an engine that reaches nothing.
    gone = create_engine("postgresql://nobody@127.0.0.1:1/x")
    try:
        async with http_client(replace(runtime, engine=gone)) as client:
            response = await client.get("/healthz")
    finally:
        await gone.dispose()
    assert response.status_code == 503
    assert response.json()["stores"]["database"] == "down"


async def test_openapi_lists_the_api(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    for path in (
        "/auth/register",
        "/auth/password",
        "/auth/session/login",
        "/auth/session/logout",
        "/auth/token",
        "/auth/token/refresh",
        "/auth/token/revoke",
        "/.well-known/jwks.json",
        "/auth/me",
        "/auth/sessions",
        "/auth/sessions/{handle}",
        "/auth/logout-all",
        "/healthz",
        "/metrics",
    ):
        assert path in paths, path


async def test_auth_answers_are_never_cached(client: httpx.AsyncClient) -> None:
    response = await client.get("/auth/me")
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_metrics_are_prometheus_text(client: httpx.AsyncClient) -> None:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert "authward_logins_total" in response.text
