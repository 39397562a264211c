"""The token cookies in a real browser (Debian's Chromium) against a real `authward serve`.

A page's script signs in for tokens and calls a protected route with nothing but the
cookies the browser keeps; a page on another site tries the same and fails. The app's
page (on the service's origin, as a browser app served beside authward would be) and the
other site's page are served by the browser's own request interception (Playwright's
routes); every other request goes to the real server, and no traffic leaves the machine.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, Final

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Route, async_playwright

from tests.conftest import unavailable
from tests.servers import running_server

CHROMIUM: Final = "/usr/bin/chromium"
CHROMIUM_ARGS: Final = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"]
PASSWORD: Final = "correct horse battery staple"
EVIL: Final = "http://evil.test"
APP_PAGE: Final = "<!doctype html><title>The app</title><p>A browser app."

# What a browser app does with token cookies: no token is ever kept by the script.
SIGN_IN_AND_USE: Final = """
async ({email, password}) => {
  const csrfCookie = () => (document.cookie.split("; ")
    .find(c => c.startsWith("authward_token_csrf=")) || "=").split("=")[1];
  const post = (path, headers = {}, body = undefined) => fetch(path, {
    method: "POST", headers: {"Content-Type": "application/json", ...headers}, body});
  const login = await post("/auth/token", {}, JSON.stringify({email, password}));
  const issued = await login.json();
  const me = await fetch("/auth/me");
  const withoutCsrf = await post("/auth/token/revoke");
  const refreshed = await post("/auth/token/refresh", {"X-CSRF-Token": csrfCookie()});
  const meAgain = await fetch("/auth/me");
  return {
    login: login.status, csrfInBody: issued.csrf_token, csrfCookie: csrfCookie(),
    scriptSees: document.cookie, me: me.status, via: (await me.json()).auth,
    withoutCsrf: withoutCsrf.status, refreshed: refreshed.status, meAgain: meAgain.status,
  };
}
"""
SIGN_IN: Final = """
async ({email, password}) => {
  const login = await fetch("/auth/token", {method: "POST",
    headers: {"Content-Type": "application/json"}, body: JSON.stringify({email, password})});
  return [login.status, (await fetch("/auth/me")).status];
}
"""
SIGN_OUT: Final = """
async () => {
  const csrf = document.cookie.split("; ").find(c => c.startsWith("authward_token_csrf="))
    .split("=")[1];
  const revoked = await fetch(
    "/auth/token/revoke", {method: "POST", headers: {"X-CSRF-Token": csrf}});
  const me = await fetch("/auth/me");
  return {revoked: revoked.status, me: me.status, scriptSees: document.cookie};
}
"""


def _attack_page(server: str, action: str, fields: dict[str, str]) -> str:
    inputs = "".join(f'<input name="{name}" value="{value}">' for name, value in fields.items())
    return (
        f'<!doctype html><form method="post" action="{server}{action}">{inputs}'
        "<button>Win a prize</button></form>"
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if not Path(CHROMIUM).exists():
        unavailable("Chromium", f"{CHROMIUM} is missing (make browser installs it)")
    env = {"AUTHWARD_TOKEN_COOKIES": "1", "AUTHWARD_INSECURE_COOKIES": "1"}
    with running_server(tmp_path_factory.mktemp("token-cookies"), env) as base:
        for email in ("ada@example.com", "mallory@example.com"):
            body = {"email": email, "password": PASSWORD}
            assert httpx.post(f"{base}/auth/register", json=body).status_code == 201
        yield base


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield launched
        await launched.close()


@pytest.fixture
async def context(browser: Browser, server: str) -> AsyncIterator[BrowserContext]:
    """A browser whose /app on the service's origin is a page of a browser app.

    authward's own pages allow no script to connect anywhere (their CSP); a browser app's
    page, served on the same origin, has no such policy.
    """
    context = await browser.new_context(base_url=server)
    context.set_default_timeout(10_000)

    async def serve_app(route: Route) -> None:
        await route.fulfill(status=200, content_type="text/html", body=APP_PAGE)

    await context.route(f"{server}/app", serve_app)
    yield context
    await context.close()


async def _cookies(context: BrowserContext, server: str) -> dict[str, dict[str, Any]]:
    """Every cookie the browser keeps for the server, whatever its path."""
    host = server.split("://")[1].split(":")[0]
    return {c["name"]: dict(c) for c in await context.cookies() if c["domain"] == host}


async def test_a_pages_script_signs_in_with_token_cookies(
    context: BrowserContext, server: str
) -> None:
    page = await context.new_page()
    await page.goto("/app")
    result = await page.evaluate(
        SIGN_IN_AND_USE, {"email": "ada@example.com", "password": PASSWORD}
    )
    assert result["login"] == 200
    assert result["me"] == 200 and result["via"] == "jwt"
    assert result["withoutCsrf"] == 403  # the cookie alone does not revoke
    assert result["refreshed"] == 200 and result["meAgain"] == 200
    assert result["csrfCookie"] == result["csrfInBody"]
    # The script sees the CSRF token, never the tokens themselves.
    assert "authward_token_csrf=" in result["scriptSees"]
    assert "authward_access" not in result["scriptSees"]
    assert "authward_refresh" not in result["scriptSees"]

    kept = await _cookies(context, server)
    assert kept["authward_access"]["httpOnly"] and kept["authward_access"]["path"] == "/"
    assert kept["authward_access"]["sameSite"] == "Lax"
    assert kept["authward_refresh"]["httpOnly"]
    assert kept["authward_refresh"]["path"] == "/auth/token/refresh"
    assert kept["authward_refresh"]["sameSite"] == "Strict"
    assert not kept["authward_token_csrf"]["httpOnly"]

    signed_out = await page.evaluate(SIGN_OUT)
    assert signed_out == {"revoked": 204, "me": 401, "scriptSees": ""}
    assert await _cookies(context, server) == {}


async def test_another_site_cannot_sign_the_browser_in(
    context: BrowserContext, server: str
) -> None:
    """Login CSRF: a page elsewhere posts the attacker's credentials from the victim's browser."""
    mallory = {"email": "mallory@example.com", "password": PASSWORD}
    pages = {
        "/session": _attack_page(server, "/auth/session/login", mallory),
        "/token": _attack_page(
            server, "/auth/token", {"username": mallory["email"], "password": PASSWORD}
        ),
    }

    async def serve_evil(route: Route) -> None:
        path = route.request.url.removeprefix(EVIL)
        await route.fulfill(status=200, content_type="text/html", body=pages[path])

    await context.route(f"{EVIL}/**", serve_evil)
    page = await context.new_page()
    for path in pages:
        await page.goto(f"{EVIL}{path}")
        async with page.expect_navigation() as navigation:
            await page.get_by_role("button", name="Win a prize").click()
        response = await navigation.value
        assert response is not None and response.status == 403, path
        assert await _cookies(context, server) == {}, path


async def test_another_site_cannot_use_the_cookies(context: BrowserContext, server: str) -> None:
    """Signed in with token cookies, the victim opens a page that posts to authward."""
    page = await context.new_page()
    await page.goto("/app")
    signed_in = await page.evaluate(SIGN_IN, {"email": "ada@example.com", "password": PASSWORD})
    assert signed_in == [200, 200]

    async def serve_evil(route: Route) -> None:
        body = _attack_page(server, "/auth/logout-all", {"csrf_token": "guess"})
        await route.fulfill(status=200, content_type="text/html", body=body)

    await context.route(f"{EVIL}/**", serve_evil)
    evil = await context.new_page()
    await evil.goto(f"{EVIL}/prize")
    assert await evil.evaluate("document.cookie") == ""  # none of authward's to read there
    async with evil.expect_navigation() as navigation:
        await evil.get_by_role("button", name="Win a prize").click()
    response = await navigation.value
    # SameSite keeps the access cookie off a cross-site POST; the origin check and the
    # CSRF token would refuse it anyway. Nothing was ended.
    assert response is not None and response.status in (401, 403)
    assert await page.evaluate("fetch('/auth/me').then(r => r.status)") == 200
