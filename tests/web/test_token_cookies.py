"""The token cookies (``AUTHWARD_TOKEN_COOKIES``) over HTTP: issue 14, defect 8.

With the setting on, the token answers also put the tokens in cookies, the access
cookie authenticates, its unsafe requests need the family's CSRF token, refresh reads
the refresh cookie, and revoke and logout clear them. The credential order (bearer
header, session cookie, access cookie) is pinned here too.
"""

from __future__ import annotations

from http.cookies import SimpleCookie

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from authward.clock import FrozenClock
from authward.runtime import Runtime, build_runtime
from authward.settings import Settings
from authward.web.app import create_app
from authward.web.facade import Authward
from tests.conftest import http_client, make_settings
from tests.web.helpers import PASSWORD, register, session_login

ACCESS = "__Host-authward_access"
REFRESH = "__Secure-authward_refresh"
CSRF = "__Host-authward_token_csrf"
SESSION = "__Host-authward_session"
CREDENTIALS = {"email": "ada@example.com", "password": PASSWORD}


@pytest.fixture
def settings(tmp_path: object) -> Settings:
    return make_settings(tmp_path, token_cookies=True)


def set_cookies(response: httpx.Response) -> dict[str, dict[str, str | bool]]:
    """Each Set-Cookie of the answer by name: its value and its attributes, lower-cased."""
    found: dict[str, dict[str, str | bool]] = {}
    for header in response.headers.get_list("set-cookie"):
        parsed = SimpleCookie()
        parsed.load(header)
        for name, morsel in parsed.items():
            attributes: dict[str, str | bool] = {"value": morsel.value}
            for part in header.split(";")[1:]:
                key, equals, value = part.strip().partition("=")
                attributes[key.lower()] = value.lower() if equals else True
            found[name] = attributes
    return found


async def token_login(client: httpx.AsyncClient, email: str = "ada@example.com") -> dict[str, str]:
    """Log in for tokens (the cookies land in the client's jar); return the answer's body."""
    response = await client.post("/auth/token", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    body: dict[str, str] = response.json()
    return body


async def test_token_login_sets_three_hardened_cookies(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await register(client, "ada@example.com")
    response = await client.post("/auth/token", json=CREDENTIALS)
    assert response.status_code == 200
    body = response.json()
    cookies = set_cookies(response)
    assert set(cookies) == {ACCESS, REFRESH, CSRF}

    access = cookies[ACCESS]
    assert access["value"] == body["access_token"]
    assert access["httponly"] is True and access["secure"] is True
    assert access["path"] == "/" and access["samesite"] == "lax"
    assert access["max-age"] == "300" == str(body["expires_in"])
    assert "domain" not in access  # __Host-: Secure, Path=/ and no Domain

    refresh = cookies[REFRESH]
    assert refresh["value"] == body["refresh_token"]
    assert refresh["httponly"] is True and refresh["secure"] is True
    assert refresh["path"] == "/auth/token/refresh" and refresh["samesite"] == "strict"
    assert refresh["max-age"] == str(runtime.settings.refresh_ttl)

    csrf = cookies[CSRF]
    assert csrf["value"] == body["csrf_token"] and len(body["csrf_token"]) == 43
    assert "httponly" not in csrf  # the page's scripts read it
    assert csrf["secure"] is True and csrf["path"] == "/" and csrf["samesite"] == "strict"
    # The body still carries the tokens, as the contract has it.
    assert body["token_type"] == "Bearer" and body["refresh_token"]


async def test_the_access_cookie_authenticates_and_the_refresh_cookie_stays_on_its_path(
    client: httpx.AsyncClient,
) -> None:
    await register(client, "ada@example.com")
    await token_login(client)
    request = client.build_request("GET", "/auth/me")
    assert ACCESS in request.headers["cookie"]
    assert REFRESH not in request.headers["cookie"]  # Path=/auth/token/refresh
    me = await client.send(request)
    assert me.status_code == 200
    assert me.json()["auth"] == "jwt" and me.json()["email"] == "ada@example.com"


async def test_unsafe_requests_by_cookie_need_the_familys_csrf_token(
    client: httpx.AsyncClient,
) -> None:
    await register(client, "ada@example.com")
    first = await token_login(client)
    jar = httpx.Cookies(client.cookies)
    second = await token_login(client)  # another family of the same user
    client.cookies = jar  # the first family's cookies, with the second one's token below
    for headers in ({}, {"X-CSRF-Token": "forged"}, {"X-CSRF-Token": second["csrf_token"]}):
        response = await client.post("/auth/token/revoke", headers=headers)
        assert response.status_code == 403, headers
        assert response.json() == {
            "detail": "CSRF token missing or wrong.",
            "code": "csrf_rejected",
        }
        assert "set-cookie" not in response.headers
    assert (await client.get("/auth/me")).status_code == 200  # nothing was revoked
    # A safe method needs none; the right token, as a header or a form field, does it.
    response = await client.post("/auth/logout-all", data={"csrf_token": first["csrf_token"]})
    assert response.status_code == 204


async def test_refresh_by_cookie_rotates_both_cookies(client: httpx.AsyncClient) -> None:
    await register(client, "ada@example.com")
    first = await token_login(client)
    response = await client.post(
        "/auth/token/refresh", headers={"X-CSRF-Token": first["csrf_token"]}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    cookies = set_cookies(response)
    assert cookies[ACCESS]["value"] == body["access_token"] != first["access_token"]
    assert cookies[REFRESH]["value"] == body["refresh_token"] != first["refresh_token"]
    assert cookies[CSRF]["value"] == body["csrf_token"] == first["csrf_token"]  # same family
    assert client.cookies.get(ACCESS) == body["access_token"]
    assert (await client.get("/auth/me")).status_code == 200
    # The refresh token the cookie held is spent.
    again = await client.post("/auth/token/refresh", json={"refresh_token": first["refresh_token"]})
    assert again.status_code == 401


async def test_refresh_by_cookie_without_the_csrf_token_spends_nothing(
    client: httpx.AsyncClient,
) -> None:
    await register(client, "ada@example.com")
    first = await token_login(client)
    for headers in ({}, {"X-CSRF-Token": "forged"}):
        response = await client.post("/auth/token/refresh", headers=headers)
        assert response.status_code == 403
        assert "set-cookie" not in response.headers
    # Had a refused request spent the cookie's token, this would be reuse (401).
    response = await client.post(
        "/auth/token/refresh", headers={"X-CSRF-Token": first["csrf_token"]}
    )
    assert response.status_code == 200


async def test_refresh_takes_the_body_first_and_needs_some_token(
    client: httpx.AsyncClient,
) -> None:
    await register(client, "ada@example.com")
    first = await token_login(client)
    # A token in the body is used as before, with no CSRF token (no cookie was used).
    response = await client.post(
        "/auth/token/refresh", json={"refresh_token": first["refresh_token"]}
    )
    assert response.status_code == 200
    client.cookies.clear()
    assert (await client.post("/auth/token/refresh")).status_code == 401
    assert (await client.post("/auth/token/refresh", json={})).status_code == 401


async def test_revoke_by_cookie_clears_the_cookies_and_ends_the_family(
    client: httpx.AsyncClient,
) -> None:
    await register(client, "ada@example.com")
    first = await token_login(client)
    response = await client.post(
        "/auth/token/revoke", headers={"X-CSRF-Token": first["csrf_token"]}
    )
    assert response.status_code == 204
    cleared = set_cookies(response)
    assert set(cleared) == {ACCESS, REFRESH, CSRF}
    assert all(c["max-age"] == "0" and c["value"] == "" for c in cleared.values())
    assert cleared[REFRESH]["path"] == "/auth/token/refresh"
    assert not client.cookies
    bearer = {"Authorization": f"Bearer {first['access_token']}"}
    assert (await client.get("/auth/me", headers=bearer)).status_code == 401
    spent = await client.post("/auth/token/refresh", json={"refresh_token": first["refresh_token"]})
    assert spent.status_code == 401


async def test_logout_all_clears_the_token_cookies(client: httpx.AsyncClient) -> None:
    await register(client, "ada@example.com")
    first = await token_login(client)
    response = await client.post("/auth/logout-all", headers={"X-CSRF-Token": first["csrf_token"]})
    assert response.status_code == 204
    assert set(set_cookies(response)) == {ACCESS, REFRESH, CSRF}
    assert not client.cookies


async def test_an_expired_access_cookie_is_401_and_the_refresh_cookie_renews_it(
    client: httpx.AsyncClient, clock: FrozenClock
) -> None:
    await register(client, "ada@example.com")
    first = await token_login(client)
    clock.advance(301 + 1)  # past the TTL and the leeway; the jar still sends the cookie
    assert (await client.get("/auth/me")).status_code == 401
    response = await client.post(
        "/auth/token/refresh", headers={"X-CSRF-Token": first["csrf_token"]}
    )
    assert response.status_code == 200
    assert (await client.get("/auth/me")).status_code == 200


@pytest.mark.parametrize(
    "value", ["x" * 9000, "not.a.token", "é", '"quoted"', "a" * 43, "Bearer x"]
)
async def test_a_malformed_access_cookie_is_401_never_500(
    client: httpx.AsyncClient, value: str
) -> None:
    cookie = f"{ACCESS}={value}".encode()  # raw bytes: UTF-8 in a header, as a client may send
    response = await client.get("/auth/me", headers={"Cookie": cookie})
    assert response.status_code == 401


# --- which credential wins --------------------------------------------------------------


async def test_a_bearer_header_decides_alone(client: httpx.AsyncClient) -> None:
    await register(client, "ada@example.com")
    bob_id = await register(client, "bob@example.com")
    bob = await token_login(client, "bob@example.com")
    client.cookies.clear()
    await token_login(client)  # Ada's cookies in the jar
    by_header = await client.get(
        "/auth/me", headers={"Authorization": f"Bearer {bob['access_token']}"}
    )
    assert by_header.json()["id"] == bob_id
    # A bad header is a 401, never a fall back to the cookie.
    refused = await client.get("/auth/me", headers={"Authorization": "Bearer nonsense"})
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"] == 'Bearer error="invalid_token"'


async def test_the_session_cookie_comes_before_the_access_cookie(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    ada_id = await register(client, "ada@example.com")
    bob_id = await register(client, "bob@example.com")
    await token_login(client, "bob@example.com")
    await session_login(client, "ada@example.com")
    me = (await client.get("/auth/me")).json()
    assert (me["id"], me["email"], me["auth"], me["email_verified"]) == (
        ada_id,
        "ada@example.com",
        "session",
        False,
    )
    # A session cookie that no longer works (ended elsewhere) does not hide a live
    # access cookie: the browser still sends it, and the token cookie answers.
    session_id = client.cookies.get(SESSION)
    assert session_id is not None
    assert await runtime.sessions.end(session_id)
    me = (await client.get("/auth/me")).json()
    assert me["id"] == bob_id and me["auth"] == "jwt"


async def test_revoke_takes_the_token_cookie_beside_a_session(client: httpx.AsyncClient) -> None:
    await register(client, "ada@example.com")
    tokens = await token_login(client)
    await session_login(client, "ada@example.com")
    response = await client.post(
        "/auth/token/revoke", headers={"X-CSRF-Token": tokens["csrf_token"]}
    )
    assert response.status_code == 204
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert (await client.get("/auth/me", headers=bearer)).status_code == 401
    assert (await client.get("/auth/me")).json()["auth"] == "session"  # the session lives on


# --- from a browser on another site ------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {"origin": "https://evil.example", "sec-fetch-site": "cross-site"},
        {"sec-fetch-site": "same-site"},
        {"origin": "https://evil.example"},
    ],
)
async def test_cross_site_token_logins_and_refreshes_are_refused(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    await register(client, "ada@example.com")
    form = {"username": "ada@example.com", "password": PASSWORD}
    response = await client.post("/auth/token", data=form, headers=headers)
    assert response.status_code == 403
    assert "set-cookie" not in response.headers
    first = await token_login(client)
    response = await client.post(
        "/auth/token/refresh", headers={"X-CSRF-Token": first["csrf_token"], **headers}
    )
    assert response.status_code == 403
    # The same requests from this origin, and from a client that is no browser, go on.
    same = {"origin": "https://testserver", "sec-fetch-site": "same-origin"}
    assert (await client.post("/auth/token", data=form, headers=same)).status_code == 200
    assert (await client.post("/auth/token", data=form)).status_code == 200


async def test_without_the_setting_no_cookie_is_set_or_read(
    tmp_path: object, clock: FrozenClock
) -> None:
    runtime = build_runtime(make_settings(tmp_path), clock=clock)
    await runtime.open(background=False)
    try:
        async with http_client(runtime) as client:
            await register(client, "ada@example.com")
            response = await client.post("/auth/token", json=CREDENTIALS)
            assert "set-cookie" not in response.headers
            assert "csrf_token" not in response.json()
            token = response.json()["access_token"]
            me = await client.get("/auth/me", headers={"Cookie": f"{ACCESS}={token}"})
            assert me.status_code == 401
            refresh = await client.post("/auth/token/refresh", json={})
            assert refresh.status_code == 422
    finally:
        await runtime.close()


async def test_insecure_cookies_drop_the_prefixes_and_secure(
    tmp_path: object, clock: FrozenClock
) -> None:
    settings = make_settings(tmp_path, token_cookies=True, insecure_cookies=True)
    runtime = build_runtime(settings, clock=clock)
    await runtime.open(background=False)
    try:
        app_transport = httpx.ASGITransport(app=create_app(runtime, open_runtime=False))
        async with httpx.AsyncClient(transport=app_transport, base_url="http://dev.test") as client:
            await register(client, "ada@example.com")
            response = await client.post("/auth/token", json=CREDENTIALS)
            cookies = set_cookies(response)
            assert set(cookies) == {"authward_access", "authward_refresh", "authward_token_csrf"}
            assert not any("secure" in c for c in cookies.values())
            assert (await client.get("/auth/me")).status_code == 200
            csrf = response.json()["csrf_token"]
            refreshed = await client.post("/auth/token/refresh", headers={"X-CSRF-Token": csrf})
            assert refreshed.status_code == 200
    finally:
        await runtime.close()


async def test_the_refresh_cookie_follows_where_the_api_is_mounted(runtime: Runtime) -> None:
    auth = Authward.from_runtime(runtime)
    app = Starlette(routes=[Mount("/id", app=auth.asgi_app)])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://app.test") as client:
        await register_at(client, "/id")
        response = await client.post("/id/auth/token", json=CREDENTIALS)
        assert set_cookies(response)[REFRESH]["path"] == "/id/auth/token/refresh"
        csrf = response.json()["csrf_token"]
        refreshed = await client.post("/id/auth/token/refresh", headers={"X-CSRF-Token": csrf})
        assert refreshed.status_code == 200, refreshed.text


async def register_at(client: httpx.AsyncClient, prefix: str) -> None:
    response = await client.post(f"{prefix}/auth/register", json=CREDENTIALS)
    assert response.status_code == 201


async def test_reauth_by_the_access_cookie_renews_both_cookies_in_the_same_family(
    client: httpx.AsyncClient, clock: FrozenClock
) -> None:
    await register(client, "ada@example.com")
    first = await token_login(client)
    clock.advance(200)
    # A cookie caller's unsafe request: the family's CSRF token, or nothing moves.
    forged = await client.post("/auth/reauth", json={"password": PASSWORD})
    assert forged.status_code == 403 and forged.json()["code"] == "csrf_rejected"
    csrf = {"X-CSRF-Token": first["csrf_token"]}
    response = await client.post("/auth/reauth", json={"password": PASSWORD}, headers=csrf)
    assert response.status_code == 200, response.text
    body = response.json()
    cookies = set_cookies(response)
    assert cookies[ACCESS]["value"] == body["access_token"] != first["access_token"]
    assert cookies[REFRESH]["value"] == body["refresh_token"] != first["refresh_token"]
    assert cookies[CSRF]["value"] == body["csrf_token"] == first["csrf_token"]  # same family
    me = (await client.get("/auth/me")).json()
    assert me["auth"] == "jwt" and me["auth_time"] == clock.now().isoformat().replace("+00:00", "Z")
    # The refresh token the cookie held before is spent.
    clock.advance(60)
    again = await client.post("/auth/token/refresh", json={"refresh_token": first["refresh_token"]})
    assert again.status_code == 401
