"""The second step of a page sign-in, in a real browser against a real `authward serve`.

TOTP is turned on over the API (the /account/security page is later work); the browser
then signs in as a person would: password, a wrong code, a recovery code. A recovery
code, not a TOTP code: the server's clock is the wall clock, and the code that turned
TOTP on has spent its step, so a TOTP code here would depend on when the test runs.
"""

from __future__ import annotations

import re

import httpx
from playwright.async_api import Browser, expect

# The browser and the served authward are test_pages_browser's module fixtures, taken
# in by name: pytest finds a fixture where it is imported.
from tests.pages.test_pages_browser import (  # noqa: F401 - fixtures, requested by name
    PASSWORD,
    _context,
    _shoot,
    browser,
    server,
    serving,
)

EMAIL = "mfa@example.com"


def turn_totp_on(base: str) -> list[str]:
    """Register, turn TOTP on over the API; return the recovery codes."""
    import pyotp

    with httpx.Client(base_url=base) as api:
        assert api.post("/auth/register", json={"email": EMAIL, "password": PASSWORD}).is_success
        login = api.post("/auth/session/login", json={"email": EMAIL, "password": PASSWORD})
        headers = {"X-CSRF-Token": login.json()["csrf_token"]}
        begun = api.post("/auth/factors/totp", json={"current_password": PASSWORD}, headers=headers)
        code = pyotp.TOTP(begun.json()["secret"]).now()
        done = api.post("/auth/factors/totp/confirm", json={"code": code}, headers=headers)
        assert done.status_code == 200, done.text
        codes: list[str] = done.json()["recovery_codes"]
        return codes


async def test_signing_in_asks_for_a_code_after_the_password(
    browser: Browser,  # noqa: F811 - the imported fixture, requested by name
    server: str,  # noqa: F811 - likewise
) -> None:
    codes = turn_totp_on(server)
    context = await _context(browser, server)
    page = await context.new_page()
    await page.goto("/login")
    await page.get_by_label("Email").fill(EMAIL)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", name="Enter your code")).to_be_visible()
    await expect(page.get_by_label("Authentication code")).to_be_focused()
    assert not [c for c in await context.cookies() if c["name"] == "authward_session"]
    await _shoot(page, "login-mfa")
    # A wrong code: the form again, saying so, and still no session.
    await page.get_by_label("Authentication code").fill("zzzz-zzzz-zzzz")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("alert")).to_contain_text("not correct")
    assert not [c for c in await context.cookies() if c["name"] == "authward_session"]
    await page.get_by_label("Authentication code").fill(codes[0])
    await page.get_by_role("button", name="Sign in").click()
    await expect(page).to_have_url(re.compile("/account$"))
    await expect(page.get_by_text(f"Signed in as {EMAIL}")).to_be_visible()
    await context.close()
