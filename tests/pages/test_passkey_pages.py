"""The passkey forms of the pages, over HTTP: what the script posts, and what a forger posts.

The script only fills a hidden ``credential`` field; every check is the server's: the
form's CSRF token and origin, a recent login for a change, the passkey's verification.
"""

from __future__ import annotations

import json

import httpx
import pytest

from authward.runtime import Runtime
from authward.settings import Settings
from tests.conftest import make_settings
from tests.pages.helpers import SAME_ORIGIN, csrf_of, form_token, post_form, sign_up
from tests.web.passkey_helpers import SoftKey

EMAIL = "ada@example.com"
SESSION_COOKIE = "__Host-authward_session"


@pytest.fixture
def settings(tmp_path: object) -> Settings:
    return make_settings(tmp_path, public_url="https://testserver")


async def options(client: httpx.AsyncClient, path: str, csrf: str | None = None) -> dict[str, str]:
    headers = {"X-CSRF-Token": csrf} if csrf else {}
    response = await client.post(path, json={}, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, str] = response.json()
    return body


async def add_on_page(client: httpx.AsyncClient, key: SoftKey) -> httpx.Response:
    csrf = await form_token(client, "/account/security")
    made = key.create(await options(client, "/auth/factors/passkeys/options", csrf))
    fields = {
        "csrf_token": csrf,
        "name": "Laptop",
        "credential": json.dumps(made),
    }
    return await post_form(client, "/account/security/passkeys", fields)


async def test_the_security_page_adds_a_passkey(client: httpx.AsyncClient) -> None:
    await sign_up(client, EMAIL)
    done = await add_on_page(client, SoftKey())
    assert done.status_code == 303, done.text
    assert done.headers["location"] == "/account/security?notice=passkey-added"
    page = await client.get(done.headers["location"])
    assert "Laptop" in page.text and "synced" in page.text


async def test_a_forged_add_is_refused(client: httpx.AsyncClient) -> None:
    await sign_up(client, EMAIL)
    csrf = await form_token(client, "/account/security")
    made = SoftKey().create(await options(client, "/auth/factors/passkeys/options", csrf))
    fields = {"name": "x", "credential": json.dumps(made)}
    no_token = await post_form(client, "/account/security/passkeys", fields)
    assert no_token.status_code == 403
    cross_site = await client.post(
        "/account/security/passkeys",
        data={**fields, "csrf_token": csrf},
        headers={"sec-fetch-site": "cross-site", "origin": "https://evil.example"},
    )
    assert cross_site.status_code == 403
    assert "Laptop" not in (await client.get("/account/security")).text
    assert "No passkeys yet." in (await client.get("/account/security")).text


async def test_the_sign_in_page_signs_in_with_a_passkey(client: httpx.AsyncClient) -> None:
    await sign_up(client, EMAIL)
    user_id = (await client.get("/auth/me")).json()["id"]
    key = SoftKey()
    assert (await add_on_page(client, key)).status_code == 303
    client.cookies.clear()
    login = await client.get("/login")
    answer = key.get(await options(client, "/auth/passkey/options"), user_id)
    fields = {
        "csrf_token": csrf_of(login.text),
        "next": "/account",
        "credential": json.dumps(answer),
    }
    forged = await post_form(
        client, "/login/passkey", {k: v for k, v in fields.items() if k != "csrf_token"}
    )
    assert forged.status_code == 403 and not client.cookies.get(SESSION_COOKIE)
    done = await post_form(client, "/login/passkey", fields)
    assert done.status_code == 303 and done.headers["location"] == "/account"
    assert (await client.get("/auth/me")).json()["amr"] == ["hwk", "user"]


@pytest.mark.parametrize(
    "credential", ["", "not json", "[1, 2]", "[" * 5_000, "{}", json.dumps({"id": "x"})]
)
async def test_a_broken_passkey_answer_is_the_form_again(
    client: httpx.AsyncClient, credential: str
) -> None:
    login = await client.get("/login")
    fields = {"csrf_token": csrf_of(login.text), "next": "/account", "credential": credential}
    response = await client.post("/login/passkey", data=fields, headers=SAME_ORIGIN)
    assert response.status_code == 400
    assert "That passkey was not accepted" in response.text


async def test_past_the_cap_the_page_says_to_remove_one(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    runtime.passkeys.max_passkeys = 1
    await sign_up(client, EMAIL)
    csrf = await form_token(client, "/account/security")
    # Both ceremonies begun with no passkey yet: the second ends past the cap.
    begun = [await options(client, "/auth/factors/passkeys/options", csrf) for _ in range(2)]
    for n, status in enumerate((303, 409)):
        fields = {
            "csrf_token": csrf,
            "name": f"Key {n}",
            "credential": json.dumps(SoftKey().create(begun[n])),
        }
        answer = await post_form(client, "/account/security/passkeys", fields)
        assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("text/html")  # the page, not JSON
    assert "as many passkeys as it can hold; remove one first" in answer.text
    full = (await client.get("/account/security")).text
    assert "Key 1" not in full
    # At the cap the page offers no add form (its options would be refused), but says why.
    assert 'id="passkeys-full"' in full and 'data-passkey="register"' not in full
