"""Small steps the HTTP tests repeat."""

from __future__ import annotations

import httpx

PASSWORD = "correct horse battery staple"


async def register(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> str:
    response = await client.post("/auth/register", json={"email": email, "password": password})
    assert response.status_code == 201, response.text
    user_id: str = response.json()["id"]
    return user_id


async def session_login(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> str:
    """Log in by session; return the CSRF token (the cookie stays in the client's jar)."""
    response = await client.post("/auth/session/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    csrf: str = response.json()["csrf_token"]
    return csrf


def session_cookie(client: httpx.AsyncClient) -> str:
    value = client.cookies.get("__Host-authward_session")
    assert value is not None
    return value


COOKIE = "__Host-authward_session"


async def status_as(client: httpx.AsyncClient, session_id: str, path: str = "/auth/me") -> int:
    """GET `path` with exactly this session cookie, whatever the client's jar holds."""
    jar = httpx.Cookies(client.cookies)
    client.cookies.clear()
    try:
        response = await client.get(path, headers={"Cookie": f"{COOKIE}={session_id}"})
    finally:
        client.cookies = jar
    return response.status_code
