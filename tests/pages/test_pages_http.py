"""The HTML pages over HTTP: forms, CSRF refusals, safe redirects, headers, messages."""

from __future__ import annotations

import hashlib
import html
import re
from collections.abc import AsyncIterator

import httpx
import pytest

from authward.clock import FrozenClock
from authward.runtime import Runtime, build_runtime
from authward.web.pages.guard import TOKEN_TTL
from authward.web.pages.render import CONTENT_SECURITY_POLICY, SCRIPT_POLICY
from tests.conftest import http_client, make_settings
from tests.pages.helpers import (
    PASSWORD,
    SAME_ORIGIN,
    account_token,
    csrf_of,
    form_token,
    post_form,
    sign_in,
    sign_up,
)

SESSION_COOKIE = "__Host-authward_session"
CSRF_COOKIE = "__Host-authward_csrf"
CREDENTIALS = {"email": "ada@example.com", "password": PASSWORD}
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
)


async def _me(client: httpx.AsyncClient) -> int:
    return (await client.get("/auth/me")).status_code


# --- every page renders, with the headers a page needs --------------------------------


async def test_login_form_is_labelled_and_carries_a_signed_token(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/login")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    assert '<label for="email">' in html and 'id="email"' in html
    assert '<label for="password">' in html and 'id="password"' in html
    assert re.fullmatch(r"\d+\.[A-Za-z0-9_-]{43}", csrf_of(html))
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{CSRF_COOKIE}=")
    for attribute in ("httponly", "secure", "path=/", "samesite=strict", "max-age="):
        assert attribute in cookie.lower()
    assert "domain" not in cookie.lower()


async def test_an_open_form_keeps_its_nonce_so_two_tabs_both_work(
    client: httpx.AsyncClient,
) -> None:
    first_tab = await form_token(client, "/register")
    await form_token(client, "/login")  # a second tab: the nonce cookie stays the same
    fields = {"email": "ada@example.com", "password": PASSWORD, "csrf_token": first_tab}
    assert (await post_form(client, "/register", fields)).status_code == 303


# The pages with a passkey form load the one first-party script; every other page none.
SCRIPTED = {"/login", "/account/security"}


@pytest.mark.parametrize(
    "path", ["/login", "/register", "/account", "/how", "/account/security", "/reauth"]
)
async def test_every_page_has_strict_headers_and_no_script_but_the_passkey_one(
    client: httpx.AsyncClient, path: str
) -> None:
    if path in {"/account", "/how", "/account/security", "/reauth"}:
        await sign_up(client, "ada@example.com")
    response = await client.get(path)
    assert response.status_code == 200, response.text
    headers = response.headers
    policy = SCRIPT_POLICY if path in SCRIPTED else CONTENT_SECURITY_POLICY
    assert headers["content-security-policy"] == policy
    assert "script-src" not in CONTENT_SECURITY_POLICY  # default-src 'none': no script at all
    assert "script-src 'self';" in SCRIPT_POLICY and "unsafe" not in SCRIPT_POLICY
    assert "require-trusted-types-for 'script'" in SCRIPT_POLICY
    assert headers["referrer-policy"] == "same-origin"  # nothing leaves for other sites
    assert headers["cache-control"] == "no-store"
    assert "cookie" in headers["vary"].lower()
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert headers["strict-transport-security"].startswith("max-age=")
    html = response.text.lower()
    scripts = re.findall(r"<script[^>]*>(.*?)</script>", html, re.S)
    assert scripts == ([""] if path in SCRIPTED else [])  # no inline script, ever
    assert ('<script src="/static/passkeys.js" defer>' in html) == (path in SCRIPTED)
    assert " style=" not in html  # style-src 'self' would block it anyway
    assert not re.search(r"\son[a-z]+=", html)
    assert "<html lang=" in html and 'name="viewport"' in html


async def test_no_hsts_over_plain_http(runtime: Runtime) -> None:
    app_client = http_client(runtime)
    async with app_client as client:
        client.base_url = httpx.URL("http://testserver")
        response = await client.get("/login")
    assert response.status_code == 200
    assert "strict-transport-security" not in response.headers


async def test_the_stylesheet_is_served(client: httpx.AsyncClient) -> None:
    response = await client.get("/static/authward.css")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/css")


# --- register, sign in, sign out ------------------------------------------------------


async def test_register_signs_in_and_shows_the_account(client: httpx.AsyncClient) -> None:
    await sign_up(client, "ada@example.com")
    assert client.cookies.get(SESSION_COOKIE)
    page = await client.get("/account")
    assert page.status_code == 200
    assert "ada@example.com" in page.text
    assert await _me(client) == 200


async def test_register_problems_are_explained(client: httpx.AsyncClient) -> None:
    short = {"email": "ada@example.com", "password": "short"}
    response = await post_form(client, "/register", short, token_from="/register")
    assert response.status_code == 400
    assert "Password must be 8" in response.text
    await sign_up(client, "ada@example.com")
    client.cookies.clear()
    taken = {"email": "ADA@example.com", "password": PASSWORD}
    response = await post_form(client, "/register", taken, token_from="/register")
    assert response.status_code == 409
    assert "already registered" in response.text


async def test_echoed_input_is_escaped(client: httpx.AsyncClient) -> None:
    evil = '"><script>alert(1)</script>'
    fields = {"email": evil, "password": PASSWORD}
    response = await post_form(client, "/register", fields, token_from="/register")
    assert response.status_code == 400
    assert "<script>" not in response.text
    assert "&#34;&gt;&lt;script&gt;" in response.text


async def test_login_goes_to_the_account_and_drops_a_planted_session(runtime: Runtime) -> None:
    async with http_client(runtime) as victim, http_client(runtime) as attacker:
        await sign_up(attacker, "mallory@example.com")
        planted = attacker.cookies[SESSION_COOKIE]
        await sign_up(victim, "ada@example.com")
        victim.cookies.clear()
        token = await form_token(victim, "/login")
        victim.cookies.set(SESSION_COOKIE, planted, domain="testserver.local")
        fields = {**CREDENTIALS, "csrf_token": token}
        response = await post_form(victim, "/login", fields)
        assert response.status_code == 303
        assert response.headers["location"] == "/account"
        assert victim.cookies[SESSION_COOKIE] != planted
        assert "ada@example.com" in (await victim.get("/account")).text
        assert await _me(attacker) == 401  # the planted id was ended, not adopted


async def test_login_drops_the_pre_session_nonce(client: httpx.AsyncClient) -> None:
    await sign_up(client, "ada@example.com")
    assert CSRF_COOKIE not in client.cookies


async def test_logout_ends_the_session(client: httpx.AsyncClient) -> None:
    await sign_up(client, "ada@example.com")
    cookie = client.cookies[SESSION_COOKIE]
    response = await post_form(client, "/logout", {"csrf_token": await account_token(client)})
    assert response.status_code == 303
    assert response.headers["location"] == "/login"
    assert SESSION_COOKIE not in client.cookies
    client.cookies.set(SESSION_COOKIE, cookie, domain="testserver.local")
    assert await _me(client) == 401


async def test_account_without_a_session_goes_to_login(client: httpx.AsyncClient) -> None:
    response = await client.get("/account")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/account"
    client.cookies.set(SESSION_COOKIE, "A" * 43, domain="testserver.local")
    response = await client.get("/account")
    assert response.headers["location"] == "/login?next=/account"
    assert SESSION_COOKIE not in client.cookies  # a dead cookie is cleared


async def test_signed_in_visitors_skip_the_login_form(client: httpx.AsyncClient) -> None:
    await sign_up(client, "ada@example.com")
    response = await client.get("/login?next=/how")
    assert response.status_code == 303
    assert response.headers["location"] == "/how"


# --- failures say only what they may --------------------------------------------------


async def test_wrong_password_and_unknown_email_get_the_same_page(
    client: httpx.AsyncClient,
) -> None:
    await sign_up(client, "ada@example.com")
    await post_form(client, "/logout", {"csrf_token": await account_token(client)})
    wrong = await sign_in(client, "ada@example.com", "not the password")
    unknown = await sign_in(client, "bob@example.com", "not the password")
    assert wrong.status_code == unknown.status_code == 400

    def normalised(response: httpx.Response, email: str) -> str:
        return response.text.replace(email, "EMAIL").replace(csrf_of(response.text), "TOKEN")

    assert normalised(wrong, "ada@example.com") == normalised(unknown, "bob@example.com")
    assert "The email or password is not correct." in wrong.text
    assert SESSION_COOKIE not in client.cookies


@pytest.fixture
async def throttled_runtime(tmp_path: object, clock: FrozenClock) -> AsyncIterator[Runtime]:
    built = build_runtime(make_settings(tmp_path, login_max_failures=2), clock=clock)
    await built.open(background=False)
    yield built
    await built.close()


async def test_throttled_login_says_how_long_to_wait(throttled_runtime: Runtime) -> None:
    async with http_client(throttled_runtime) as client:
        await sign_up(client, "ada@example.com")
        client.cookies.clear()
        for _ in range(2):
            assert (await sign_in(client, "ada@example.com", "wrong guess")).status_code == 400
        response = await sign_in(client, "ada@example.com")  # even the right password
    assert response.status_code == 429
    wait = int(response.headers["retry-after"])
    assert 0 < wait <= throttled_runtime.settings.login_window
    assert re.search(r"try again in \d+ minutes?( \d+ seconds?)?\.", response.text)
    assert SESSION_COOKIE not in client.cookies


# --- CSRF: token-less, wrong, stale and cross-site posts are refused ------------------


@pytest.mark.parametrize("path", ["/login", "/register"])
async def test_pre_session_forms_refuse_a_missing_or_foreign_token(
    client: httpx.AsyncClient, path: str
) -> None:
    await client.get(path)  # the browser holds a nonce
    missing = await post_form(client, path, CREDENTIALS)
    forged = await post_form(client, path, {**CREDENTIALS, "csrf_token": "1.forged"})
    assert missing.status_code == forged.status_code == 403
    assert "This form expired or was not sent from this site" in missing.text
    assert SESSION_COOKIE not in client.cookies


async def test_a_token_without_its_cookie_is_refused(runtime: Runtime) -> None:
    async with http_client(runtime) as attacker, http_client(runtime) as victim:
        token = await form_token(attacker, "/register")  # valid, but for the attacker's nonce
        await victim.get("/register")
        response = await post_form(victim, "/register", {**CREDENTIALS, "csrf_token": token})
        assert response.status_code == 403
        victim.cookies.clear()
        response = await post_form(victim, "/register", {**CREDENTIALS, "csrf_token": token})
        assert response.status_code == 403


async def test_a_stale_sign_in_form_is_refused(
    client: httpx.AsyncClient, clock: FrozenClock
) -> None:
    token = await form_token(client, "/register")
    clock.advance(TOKEN_TTL + 1)
    response = await post_form(client, "/register", {**CREDENTIALS, "csrf_token": token})
    assert response.status_code == 403


@pytest.mark.parametrize(
    "headers",
    [
        {"sec-fetch-site": "cross-site"},
        {"sec-fetch-site": "same-site"},
        {"origin": "https://evil.example"},
        {"origin": "null"},
        {"sec-fetch-site": "same-site", "origin": "null"},
        {"sec-fetch-site": "same-origin", "origin": "https://testserver.evil.example"},
    ],
)
async def test_cross_site_posts_are_refused_even_with_a_token(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    fields = {**CREDENTIALS, "csrf_token": await form_token(client, "/register")}
    response = await client.post("/register", data=fields, headers=headers)
    assert response.status_code == 403
    assert "Request refused" in response.text
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    await sign_up(client, "ada@example.com")
    token = await account_token(client)
    response = await client.post("/logout", data={"csrf_token": token}, headers=headers)
    assert response.status_code == 403
    assert await _me(client) == 200


@pytest.mark.parametrize(
    "path", ["/logout", "/account/sign-out-everywhere", "/account/password", "/how/revoke"]
)
@pytest.mark.parametrize("token", [None, "", "wrong", "1.forged"])
async def test_signed_in_forms_need_the_session_token(
    client: httpx.AsyncClient, path: str, token: str | None
) -> None:
    await sign_up(client, "ada@example.com")
    fields = {"what": "session", "current_password": PASSWORD, "new_password": "x" * 12}
    if token is not None:
        fields["csrf_token"] = token
    response = await post_form(client, path, fields)
    assert response.status_code == 403
    assert "Request refused" in response.text
    assert await _me(client) == 200


async def test_the_pre_session_token_does_not_pass_for_a_session_one(
    client: httpx.AsyncClient,
) -> None:
    pre_session = await form_token(client, "/register")
    await sign_up(client, "ada@example.com")
    response = await post_form(client, "/logout", {"csrf_token": pre_session})
    assert response.status_code == 403


# --- next: only a path of this site ----------------------------------------------------

EVIL_NEXT = [
    "//evil.example",
    "///evil.example",
    "////evil.example/",
    "/\\evil.example",
    "\\\\evil.example",
    "\\/evil.example",
    "https://evil.example",
    "http:evil.example",
    "https:/evil.example",
    "javascript:alert(1)",
    "JavaScript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "evil.example",
    "account",
    " /account",
    "/\t/evil.example",
    "/\r\n/evil.example",
    "/account\r\nSet-Cookie: x=1",
    "/\x00",
    "/%2F%2Fevil.example",
    "/%2f/evil.example",
    "/%5Cevil.example",
    "/%09/evil.example",
    "\u2215\u2215evil.example",
    "/\uff0fevil.example",
    "/" + "a" * 3000,
    "",
]


@pytest.mark.parametrize("evil", EVIL_NEXT)
async def test_next_never_leaves_the_site(client: httpx.AsyncClient, evil: str) -> None:
    await sign_up(client, "ada@example.com")
    await post_form(client, "/logout", {"csrf_token": await account_token(client)})
    response = await sign_in(client, "ada@example.com", next_path=evil)
    assert response.status_code == 303
    assert response.headers["location"] == "/account"
    form = await client.get("/login", params={"next": evil})
    assert form.status_code == 303  # signed in already: straight on, to the safe default
    assert form.headers["location"] == "/account"


@pytest.mark.parametrize("good", ["/how", "/account?tab=devices", "/a/b%20c"])
async def test_next_keeps_a_path_of_this_site(client: httpx.AsyncClient, good: str) -> None:
    form = await client.get("/login", params={"next": good})
    assert f'name="next" value="{good}"' in form.text
    await sign_up(client, "ada@example.com")
    await post_form(client, "/logout", {"csrf_token": await account_token(client)})
    response = await sign_in(client, "ada@example.com", next_path=good)
    assert response.headers["location"] == good


# --- the account page -------------------------------------------------------------------


async def test_account_lists_other_sessions_and_token_logins(runtime: Runtime) -> None:
    async with (
        http_client(runtime) as laptop,
        http_client(runtime, "198.51.100.23") as phone,
        http_client(runtime, "192.0.2.80") as api_client,
    ):
        await sign_up(laptop, "ada@example.com")
        phone.headers["user-agent"] = IPHONE
        await sign_in(phone, "ada@example.com")
        api_client.headers["user-agent"] = "backup-script/2.1"
        issued = await api_client.post(
            "/auth/token", json={"email": "ada@example.com", "password": PASSWORD}
        )
        assert issued.status_code == 200
        page = await laptop.get("/account")
        assert page.status_code == 200
        shown = page.text
        assert "Mobile Safari 17 on iOS 17" in shown
        assert "198.51.100.23" in shown
        assert "backup-script/2.1" in shown and "192.0.2.80" in shown
        assert "API tokens" in shown
        assert shown.count('action="/account/sign-out"') == 2  # this session is not listed
        sessions = (await laptop.get("/auth/sessions")).json()
        assert all(s["id"] in shown for s in sessions if not s["current"])


async def test_signing_out_another_device(runtime: Runtime) -> None:
    async with http_client(runtime) as laptop, http_client(runtime) as phone:
        await sign_up(laptop, "ada@example.com")
        await sign_in(phone, "ada@example.com")
        access = (
            await phone.post("/auth/token", json={"email": "ada@example.com", "password": PASSWORD})
        ).json()["access_token"]
        devices = (await laptop.get("/auth/sessions")).json()
        token = await account_token(laptop)
        for device in devices:
            if device["current"]:
                continue
            fields = {"csrf_token": token, "handle": device["id"]}
            response = await post_form(laptop, "/account/sign-out", fields)
            assert response.status_code == 303
            assert response.headers["location"] == "/account?notice=ended"
        assert await _me(phone) == 401
        bearer = {"authorization": f"Bearer {access}"}
        assert (await phone.get("/auth/me", headers=bearer)).status_code == 401
        assert await _me(laptop) == 200
        gone = await post_form(laptop, "/account/sign-out", {"csrf_token": token, "handle": "x"})
        assert gone.headers["location"] == "/account?notice=gone"


async def test_sign_out_everywhere(runtime: Runtime) -> None:
    async with http_client(runtime) as laptop, http_client(runtime) as phone:
        await sign_up(laptop, "ada@example.com")
        await sign_in(phone, "ada@example.com")
        access = (
            await phone.post("/auth/token", json={"email": "ada@example.com", "password": PASSWORD})
        ).json()["access_token"]
        fields = {"csrf_token": await account_token(laptop)}
        response = await post_form(laptop, "/account/sign-out-everywhere", fields)
        assert response.status_code == 303
        assert response.headers["location"] == "/login?notice=everywhere"
        assert await _me(laptop) == await _me(phone) == 401
        bearer = {"authorization": f"Bearer {access}"}
        assert (await phone.get("/auth/me", headers=bearer)).status_code == 401
        notice = await laptop.get("/login?notice=everywhere")
        assert "signed out on every device" in notice.text


async def test_change_password_keeps_only_this_session(runtime: Runtime) -> None:
    async with http_client(runtime) as laptop, http_client(runtime) as phone:
        await sign_up(laptop, "ada@example.com")
        await sign_in(phone, "ada@example.com")
        token = await account_token(laptop)
        wrong = {"csrf_token": token, "current_password": "nope", "new_password": "n" * 12}
        response = await post_form(laptop, "/account/password", wrong)
        assert response.status_code == 400
        assert "current password is not correct" in response.text
        short = {"csrf_token": token, "current_password": PASSWORD, "new_password": "short"}
        assert (await post_form(laptop, "/account/password", short)).status_code == 400
        good = {"csrf_token": token, "current_password": PASSWORD, "new_password": "n" * 12}
        response = await post_form(laptop, "/account/password", good)
        assert response.headers["location"] == "/account?notice=password"
        assert await _me(laptop) == 200
        assert await _me(phone) == 401
        phone.cookies.clear()
        assert (await sign_in(phone, "ada@example.com", "n" * 12)).status_code == 303


# --- /how --------------------------------------------------------------------------------


async def _how_token(client: httpx.AsyncClient) -> str:
    return await form_token(client, "/how")


async def test_how_needs_a_session(client: httpx.AsyncClient) -> None:
    response = await client.get("/how")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/how"


async def test_how_is_not_served_without_demo_pages(tmp_path: object, clock: FrozenClock) -> None:
    built = build_runtime(make_settings(tmp_path, demo_pages=False), clock=clock)
    await built.open(background=False)
    try:
        async with http_client(built) as client:
            await sign_up(client, "ada@example.com")
            assert (await client.get("/how")).status_code == 404
            assert (await client.post("/how/revoke", data={})).status_code in {404, 405}
            assert 'href="/how"' not in (await client.get("/account")).text
    finally:
        await built.close()


async def test_how_shows_the_session_by_digest_and_prefix_only(
    client: httpx.AsyncClient,
) -> None:
    await sign_up(client, "ada@example.com")
    session_id = client.cookies[SESSION_COOKIE]
    html = (await client.get("/how")).text
    assert session_id not in html
    assert f"<code>{session_id[:6]}…</code>" in html
    assert hashlib.sha256(session_id.encode()).hexdigest() in html
    assert "HttpOnly" in html
    # Issue 18.11: no column of figures that nothing fills, no promise of measurement.
    assert "Measured" not in html and "not measured yet" not in html
    assert "What authward does" in html


async def test_how_issues_tests_and_revokes_a_token(client: httpx.AsyncClient) -> None:
    await sign_up(client, "ada@example.com")
    user_id = (await client.get("/auth/me")).json()["id"]
    response = await post_form(client, "/how/token", {"csrf_token": await _how_token(client)})
    assert response.status_code == 303
    cookie = response.headers["set-cookie"].lower()
    assert "path=/how" in cookie and "httponly" in cookie and "secure" in cookie
    access = client.cookies["__Secure-authward_how_token"]
    page = await client.get("/how")
    shown = html.unescape(page.text)
    assert f'"sub": "{user_id}"' in shown
    assert '"typ": "at+jwt"' in shown
    token = csrf_of(page.text)
    tested = await post_form(client, "/how/test", {"csrf_token": token, "what": "token"})
    assert "accepted: 200" in tested.text
    revoked = await post_form(client, "/how/revoke", {"csrf_token": token, "what": "token"})
    assert revoked.status_code == 200
    assert "refused: 401" in revoked.text
    assert "though it has not expired" in revoked.text
    bearer = {"authorization": f"Bearer {access}"}
    assert (await client.get("/auth/me", headers=bearer)).status_code == 401
    assert await _me(client) == 200  # the session is untouched
    again = await post_form(client, "/how/revoke", {"csrf_token": token, "what": "token"})
    assert "Nothing left to revoke" in again.text


async def test_a_new_demo_token_revokes_the_previous_one(client: httpx.AsyncClient) -> None:
    await sign_up(client, "ada@example.com")
    await post_form(client, "/how/token", {"csrf_token": await _how_token(client)})
    first = client.cookies["__Secure-authward_how_token"]
    await post_form(client, "/how/token", {"csrf_token": await _how_token(client)})
    assert client.cookies["__Secure-authward_how_token"] != first
    families = [d for d in (await client.get("/auth/sessions")).json() if d["kind"] == "jwt"]
    assert len(families) == 1


async def test_how_revokes_the_session_and_shows_it_refused(client: httpx.AsyncClient) -> None:
    await sign_up(client, "ada@example.com")
    token = await _how_token(client)
    response = await post_form(client, "/how/revoke", {"csrf_token": token, "what": "session"})
    assert response.status_code == 200
    assert "refused: 401" in response.text
    assert "The record was deleted" in response.text
    assert await _me(client) == 401
    again = await post_form(client, "/how/test", {"csrf_token": token, "what": "session"})
    assert "refused: 401" in again.text
    assert (await client.get("/how")).headers["location"] == "/login?next=/how"


async def test_insecure_cookies_drop_the_host_prefix(tmp_path: object, clock: FrozenClock) -> None:
    built = build_runtime(make_settings(tmp_path, insecure_cookies=True), clock=clock)
    await built.open(background=False)
    try:
        async with http_client(built) as client:
            response = await client.get("/login")
            cookie = response.headers["set-cookie"]
            assert cookie.startswith("authward_csrf=")
            assert "secure" not in cookie.lower()
            fields = {**CREDENTIALS, "csrf_token": csrf_of(response.text)}
            registered = await client.post("/register", data=fields, headers=SAME_ORIGIN)
            assert registered.status_code == 303
    finally:
        await built.close()
