"""Cross-site requests to the API routes that set cookies or read bodies (issue 14, defect 4).

A browser on another site may send a form or a ``text/plain`` POST without any CORS
preflight (a "simple request"); it cannot add custom headers or a JSON content type
without one. So `POST /auth/session/login` refuses what the browser says comes from
another site (as the pages do), and no route reads JSON from a body whose content type
is not JSON. Clients that send neither ``Origin`` nor ``Sec-Fetch-Site`` (curl, a server)
are not browsers, and go on.
"""

from __future__ import annotations

import json

import httpx
import pytest
from fastapi import FastAPI

from authward.runtime import Runtime
from authward.web.facade import Authward
from tests.web.helpers import PASSWORD, register

CREDENTIALS = {"email": "ada@example.com", "password": PASSWORD}
SAME_ORIGIN = {"origin": "https://testserver", "sec-fetch-site": "same-origin"}
CROSS_SITE = [
    {"origin": "https://evil.example", "sec-fetch-site": "cross-site"},
    {"sec-fetch-site": "cross-site"},
    {"sec-fetch-site": "same-site"},  # a sibling subdomain is not us
    {"origin": "https://evil.example"},
    {"origin": "null"},
    {"sec-fetch-site": "same-origin", "origin": "https://testserver.evil.example"},
]


def _no_cookie(response: httpx.Response) -> bool:
    return "set-cookie" not in response.headers


@pytest.mark.parametrize("headers", CROSS_SITE)
async def test_cross_site_form_login_is_refused_without_a_cookie(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    await register(client, "ada@example.com")
    response = await client.post("/auth/session/login", data=CREDENTIALS, headers=headers)
    assert response.status_code == 403, response.text
    assert _no_cookie(response)
    assert response.json() == {"detail": "CSRF token missing or wrong.", "code": "csrf_rejected"}


async def test_cross_site_text_plain_login_is_refused_without_a_cookie(
    client: httpx.AsyncClient,
) -> None:
    """The report's exact request: JSON in a ``text/plain`` body from evil.example."""
    await register(client, "ada@example.com")
    response = await client.post(
        "/auth/session/login",
        content=json.dumps(CREDENTIALS),
        headers={"content-type": "text/plain", **CROSS_SITE[0]},
    )
    assert response.status_code == 403
    assert _no_cookie(response)
    assert not client.cookies


@pytest.mark.parametrize("content_type", ["text/plain", "text/plain;charset=UTF-8", None])
async def test_json_login_needs_a_json_content_type(
    client: httpx.AsyncClient, runtime: Runtime, content_type: str | None
) -> None:
    """Even from a client that is no browser: JSON is read only under a JSON type."""
    await register(client, "ada@example.com")
    request = client.build_request(
        "POST", "/auth/session/login", content=json.dumps(CREDENTIALS).encode()
    )
    if content_type is not None:
        request.headers["content-type"] = content_type
    response = await client.send(request)
    assert response.status_code == 422
    assert _no_cookie(response)
    assert await runtime.sessions.list_live(await _user_id(runtime)) == []


@pytest.mark.parametrize(
    "content_type", ["application/json", "application/json; charset=utf-8", "Application/JSON"]
)
async def test_json_login_from_this_origin_or_a_non_browser_works(
    client: httpx.AsyncClient, content_type: str
) -> None:
    await register(client, "ada@example.com")
    body = json.dumps(CREDENTIALS)
    for headers in (SAME_ORIGIN, {}, {"sec-fetch-site": "none"}):
        response = await client.post(
            "/auth/session/login", content=body, headers={"content-type": content_type, **headers}
        )
        assert response.status_code == 200, response.text
        assert "set-cookie" in response.headers


async def test_same_origin_form_login_still_works(client: httpx.AsyncClient) -> None:
    await register(client, "ada@example.com")
    response = await client.post("/auth/session/login", data=CREDENTIALS, headers=SAME_ORIGIN)
    assert response.status_code == 200
    assert "set-cookie" in response.headers


@pytest.mark.parametrize("content_type", ["text/plain", None])
async def test_register_reads_json_only_under_a_json_content_type(
    client: httpx.AsyncClient, content_type: str | None
) -> None:
    request = client.build_request("POST", "/auth/register", content=json.dumps(CREDENTIALS))
    if content_type is not None:
        request.headers["content-type"] = content_type
    assert (await client.send(request)).status_code == 422
    # Nothing was created: the same email registers afterwards.
    await register(client, "ada@example.com")


async def test_the_json_rule_holds_in_an_app_that_relaxed_it(runtime: Runtime) -> None:
    """An app built with ``strict_content_type=False`` still gets authward's routes strict."""
    auth = Authward.from_runtime(runtime)
    app = FastAPI(strict_content_type=False)
    app.include_router(auth.router)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as c:
        request = c.build_request("POST", "/auth/register", content=json.dumps(CREDENTIALS))
        assert "content-type" not in request.headers
        assert (await c.send(request)).status_code == 422
        request = c.build_request("POST", "/auth/token/refresh", content=b'{"refresh_token":"x"}')
        assert (await c.send(request)).status_code == 422


async def test_token_login_reads_json_only_under_a_json_content_type(
    client: httpx.AsyncClient,
) -> None:
    await register(client, "ada@example.com")
    response = await client.post(
        "/auth/token", content=json.dumps(CREDENTIALS), headers={"content-type": "text/plain"}
    )
    assert response.status_code == 422
    # The OAuth2 password form stays a form.
    form = {"username": "ada@example.com", "password": PASSWORD}
    assert (await client.post("/auth/token", data=form)).status_code == 200


async def _user_id(runtime: Runtime) -> str:
    user = await runtime.accounts.users.get_by_email("ada@example.com")
    assert user is not None
    return user.id


@pytest.mark.parametrize("origin", ["http://[", "https://[::1", "http://]"])
async def test_a_malformed_origin_is_refused_not_a_500(
    client: httpx.AsyncClient, origin: str
) -> None:
    """The one guard of the API and the pages: an Origin no URL parser takes is foreign."""
    await register(client, "ada@example.com")
    response = await client.post(
        "/auth/session/login", json=CREDENTIALS, headers={"origin": origin}
    )
    assert response.status_code == 403
    assert _no_cookie(response)
    response = await client.post("/login", data=CREDENTIALS, headers={"origin": origin})
    assert response.status_code == 403
    assert "Request refused" in response.text
