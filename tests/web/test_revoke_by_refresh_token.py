"""Issue 18.13: POST /auth/token/revoke takes {"refresh_token"} (RFC 7009): whoever
holds a family's refresh token can end it, with no access token at all."""

from __future__ import annotations

import httpx
import pytest

from tests.web.helpers import PASSWORD, register

Tokens = dict[str, str]


async def token_login(client: httpx.AsyncClient, email: str) -> Tokens:
    response = await client.post("/auth/token", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    tokens: Tokens = response.json()
    return tokens


def bearer(tokens: Tokens) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


async def refresh_status(client: httpx.AsyncClient, tokens: Tokens) -> int:
    body = {"refresh_token": tokens["refresh_token"]}
    return (await client.post("/auth/token/refresh", json=body)).status_code


async def test_the_refresh_token_alone_ends_its_family(client: httpx.AsyncClient) -> None:
    await register(client, "ada@example.com")
    ended, other = (
        await token_login(client, "ada@example.com"),
        await token_login(client, "ada@example.com"),
    )
    revoke = await client.post("/auth/token/revoke", json={"refresh_token": ended["refresh_token"]})
    assert revoke.status_code == 204
    assert await refresh_status(client, ended) == 401
    assert (await client.get("/auth/me", headers=bearer(ended))).status_code == 401
    # The user's other family lives on: one family ended, not the user's every one.
    assert (await client.get("/auth/me", headers=bearer(other))).status_code == 200
    assert await refresh_status(client, other) == 200


async def test_possession_is_the_proof_whoever_is_signed_in(client: httpx.AsyncClient) -> None:
    """A client signed in as Ada, holding Bob's refresh token, ends Bob's family only."""
    await register(client, "ada@example.com")
    await register(client, "bob@example.com")
    ada, bob = (
        await token_login(client, "ada@example.com"),
        await token_login(client, "bob@example.com"),
    )
    revoke = await client.post(
        "/auth/token/revoke", json={"refresh_token": bob["refresh_token"]}, headers=bearer(ada)
    )
    assert revoke.status_code == 204
    assert (await client.get("/auth/me", headers=bearer(bob))).status_code == 401
    assert await refresh_status(client, bob) == 401
    me = await client.get("/auth/me", headers=bearer(ada))
    assert me.status_code == 200 and me.json()["email"] == "ada@example.com"
    assert await refresh_status(client, ada) == 200


@pytest.mark.parametrize(
    "garbage",
    ["", "not a token", "A" * 43, "x" * 256, "../../etc/passwd", "\u202e" * 10],
)
async def test_any_other_value_revokes_nothing_and_says_nothing(
    client: httpx.AsyncClient, garbage: str
) -> None:
    await register(client, "ada@example.com")
    tokens = await token_login(client, "ada@example.com")
    response = await client.post("/auth/token/revoke", json={"refresh_token": garbage})
    assert response.status_code == 204  # the answer to a token that was revoked
    assert (await client.get("/auth/me", headers=bearer(tokens))).status_code == 200
    assert await refresh_status(client, tokens) == 200


async def test_a_spent_refresh_token_revokes_nothing(client: httpx.AsyncClient) -> None:
    """Only the family's current token is its proof; a spent one ends nothing here."""
    await register(client, "ada@example.com")
    first = await token_login(client, "ada@example.com")
    renewed = (
        await client.post("/auth/token/refresh", json={"refresh_token": first["refresh_token"]})
    ).json()
    revoke = await client.post("/auth/token/revoke", json={"refresh_token": first["refresh_token"]})
    assert revoke.status_code == 204
    assert (await client.get("/auth/me", headers=bearer(renewed))).status_code == 200


async def test_without_a_refresh_token_the_access_token_is_needed(
    client: httpx.AsyncClient,
) -> None:
    await register(client, "ada@example.com")
    tokens = await token_login(client, "ada@example.com")
    for body in (None, {}, {"refresh_token": None}):
        response = await client.post("/auth/token/revoke", json=body)
        assert response.status_code == 401
        assert response.json()["code"] == "not_authenticated"
        assert response.headers["WWW-Authenticate"] == "Bearer"
    assert (await client.post("/auth/token/revoke", headers=bearer(tokens))).status_code == 204
    assert await refresh_status(client, tokens) == 401
