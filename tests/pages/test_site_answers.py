"""Issue 18.10: the service as a site. `/` leads to the account, a browser lost on it
gets a page (404, 405) and an API client JSON, and every page answers HEAD."""

from __future__ import annotations

import httpx
import pytest

from authward.web.pages.missing import prefers_html
from tests.pages.helpers import sign_up
from tests.web.helpers import PASSWORD, register

# What Chromium sends for a page it navigates to.
BROWSER = {
    "accept": "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,"
    "image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7"
}
PAGES = ["/", "/login", "/register", "/account", "/how"]


async def test_the_root_leads_to_the_account(client: httpx.AsyncClient) -> None:
    response = await client.get("/", headers=BROWSER)
    assert response.status_code == 303
    assert response.headers["location"] == "/account"
    assert (await client.get("/account")).headers["location"].startswith("/login")


async def test_a_browser_gets_a_page_for_an_unknown_path(client: httpx.AsyncClient) -> None:
    response = await client.get("/no/such/page", headers=BROWSER)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "<h1>Page not found</h1>" in response.text
    assert 'href="/static/authward.css"' in response.text  # the site's own style
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert "Accept" in response.headers["vary"]


@pytest.mark.parametrize(
    "accept", [None, "*/*", "application/json", "text/html;q=0.5,application/json"]
)
async def test_a_program_gets_json_for_an_unknown_path(
    client: httpx.AsyncClient, accept: str | None
) -> None:
    headers = {} if accept is None else {"accept": accept}
    response = await client.get("/no/such/page", headers=headers)
    assert response.status_code == 404
    assert response.json() == {"detail": "Not Found", "code": "not_found"}


async def test_a_wrong_method_is_a_page_for_a_browser_and_json_for_a_program(
    client: httpx.AsyncClient,
) -> None:
    page = await client.delete("/login", headers=BROWSER)
    assert page.status_code == 405
    assert "<h1>Not possible here</h1>" in page.text
    assert "GET" in page.headers["allow"]
    api = await client.put("/auth/me")
    assert api.status_code == 405
    assert api.json() == {"detail": "Method Not Allowed", "code": "method_not_allowed"}
    assert "GET" in api.headers["allow"]


async def test_an_api_404_stays_json_for_a_browser(client: httpx.AsyncClient) -> None:
    """Only the router's own 404 becomes a page: an API's answers keep their shape."""
    await register(client, "ada@example.com")
    login = {"email": "ada@example.com", "password": PASSWORD}
    token = (await client.post("/auth/token", json=login)).json()["access_token"]
    headers = {**BROWSER, "authorization": f"Bearer {token}"}
    response = await client.delete("/auth/sessions/AAAAAAAAAAAAAAAAAAAAAA", headers=headers)
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


@pytest.mark.parametrize("path", PAGES)
async def test_every_page_answers_head_as_it_answers_get(
    client: httpx.AsyncClient, path: str
) -> None:
    got = await client.get(path, headers=BROWSER)
    head = await client.head(path, headers=BROWSER)
    assert head.status_code == got.status_code != 405
    assert head.content == b""
    assert head.headers.get("location") == got.headers.get("location")
    assert head.headers.get("content-type") == got.headers.get("content-type")


async def test_head_of_a_signed_in_page(client: httpx.AsyncClient) -> None:
    await sign_up(client, "ada@example.com")
    got, head = await client.get("/account"), await client.head("/account")
    assert got.status_code == head.status_code == 200
    assert head.content == b"" and int(head.headers["content-length"]) == len(got.content)


async def test_head_of_an_unknown_page_is_an_empty_404(client: httpx.AsyncClient) -> None:
    response = await client.head("/no/such/page", headers=BROWSER)
    assert response.status_code == 404 and response.content == b""


@pytest.mark.parametrize(
    ("accept", "html"),
    [
        (BROWSER["accept"], True),
        ("text/html", True),
        ("TEXT/HTML; q=1", True),
        ("application/json, text/html", True),
        ("application/json, text/html;q=0.9", False),
        ("text/html;q=0", False),
        ("text/html;q=nan", False),
        ("text/html;q=inf", False),
        ("text/html;q=oops", False),
        ("*/*", False),
        ("", False),
        (",,;;=,", False),
    ],
)
def test_prefers_html(accept: str, html: bool) -> None:
    assert prefers_html(accept) is html
