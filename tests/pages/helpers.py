"""Steps the page tests repeat: read a form's CSRF token, post forms as a browser would."""

from __future__ import annotations

import re

import httpx

PASSWORD = "correct horse battery staple"
SAME_ORIGIN = {"sec-fetch-site": "same-origin", "origin": "https://testserver"}
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    match = _CSRF.search(html)
    assert match is not None, "the page has no csrf_token field"
    return match.group(1)


async def form_token(client: httpx.AsyncClient, path: str = "/login") -> str:
    """Open a page as a browser would and return its form's CSRF token."""
    response = await client.get(path)
    assert response.status_code == 200, response.text
    return csrf_of(response.text)


async def post_form(
    client: httpx.AsyncClient,
    path: str,
    fields: dict[str, str],
    *,
    token_from: str | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """Post a form like a same-origin browser, with the token of the page `token_from`."""
    if token_from is not None:
        fields = {"csrf_token": await form_token(client, token_from), **fields}
    return await client.post(path, data=fields, headers={**SAME_ORIGIN, **(headers or {})})


async def sign_up(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> None:
    response = await post_form(
        client, "/register", {"email": email, "password": password}, token_from="/register"
    )
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/account"


async def sign_in(
    client: httpx.AsyncClient, email: str, password: str = PASSWORD, next_path: str = ""
) -> httpx.Response:
    fields = {"email": email, "password": password, "next": next_path}
    return await post_form(client, "/login", fields, token_from="/login")


async def account_token(client: httpx.AsyncClient) -> str:
    """The session's CSRF token, as the account page's forms carry it."""
    return await form_token(client, "/account")
