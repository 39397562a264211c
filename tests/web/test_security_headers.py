"""Every answer carries the security headers, whichever layer gives it.

The answers a middleware gives before the app (413 for a body or header block too large,
422 for JSON nested too deeply) once went out without them: the headers middleware sat
inside the limits. Each is compared here with an ordinary answer from the same path.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from authward import Authward
from authward.runtime import Runtime
from authward.web.limits import MAX_HEADER_BYTES

SECURITY_HEADERS = (
    "x-content-type-options",
    "referrer-policy",
    "x-frame-options",
    "cache-control",
    "vary",
    "strict-transport-security",
)
JSON = {"Content-Type": "application/json"}


def security_headers(response: httpx.Response) -> dict[str, str | None]:
    return {name: response.headers.get(name) for name in SECURITY_HEADERS}


async def refusals(client: httpx.AsyncClient, runtime: Runtime) -> dict[str, httpx.Response]:
    """The answers the limits give on /auth/register, before any route runs."""
    too_big = b'{"email": "' + b"a" * runtime.settings.max_body_bytes + b'"}'
    filler = {f"x-filler-{n}": "v" * 1000 for n in range(MAX_HEADER_BYTES // 1000 + 1)}
    return {
        "body too large": await client.post("/auth/register", content=too_big, headers=JSON),
        "headers too large": await client.post("/auth/register", json={}, headers=filler),
        "json too deep": await client.post(
            "/auth/register", content=b"[" * 100 + b"]" * 100, headers=JSON
        ),
    }


async def check_refusals(client: httpx.AsyncClient, runtime: Runtime) -> None:
    ordinary = await client.post("/auth/register", json={"email": "not an email"})
    assert ordinary.status_code == 422
    expected = security_headers(ordinary)
    assert None not in expected.values(), expected  # the baseline has every one of them
    for what, response in (await refusals(client, runtime)).items():
        assert response.status_code in (413, 422), what
        assert security_headers(response) == expected, what


async def test_answers_of_the_limits_carry_the_security_headers(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await check_refusals(client, runtime)


@pytest.fixture
async def mounted(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    """authward's API as an app of its own (`Authward.asgi_app`), as a library user mounts it."""
    app = Authward.from_runtime(runtime).asgi_app
    transport = httpx.ASGITransport(app=app, client=("198.51.100.4", 4000))
    async with httpx.AsyncClient(transport=transport, base_url="https://app.test") as client:
        yield client


async def test_the_mountable_api_answers_its_limits_with_the_security_headers(
    mounted: httpx.AsyncClient, runtime: Runtime
) -> None:
    await check_refusals(mounted, runtime)


async def test_a_page_path_refused_by_the_limits_carries_the_headers_too(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    too_big = b"email=" + b"a" * runtime.settings.max_body_bytes
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    response = await client.post("/login", content=too_big, headers=form)
    assert response.status_code == 413
    for name in ("x-content-type-options", "x-frame-options", "strict-transport-security"):
        assert response.headers.get(name) is not None, name
