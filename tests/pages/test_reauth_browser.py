"""Step-up on the pages in a real browser: a stale login on /account/security goes to
/reauth, proves itself (a password; a passkey through Chromium's virtual authenticator),
comes back, and the change goes through.

The server is a real `authward serve` on the wall clock; a login goes stale by moving its
session's auth time back in the database, the way time would, rather than by waiting.
The node's session cache is off so that the server reads what the test wrote.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect
from sqlalchemy import update

from authward.sessions.sql import sessions
from authward.storage.sql import create_engine
from tests.pages.test_pages_browser import PASSWORD, _shoot
from tests.pages.test_passkeys_browser import (  # noqa: F401 - chromium: a fixture, by name
    add_passkey,
    chromium,
    register,
    serving_site,
    sign_out,
    with_authenticator,
)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("reauth")


@pytest.fixture(scope="module")
def site(home: Path) -> Iterator[str]:
    with serving_site(home, {"AUTHWARD_SESSION_CACHE_TTL": "0"}) as url:
        yield url


# The security page itself, not /reauth?next=/account/security (which ends the same).
BACK_ON_SECURITY = re.compile(r"^[^?]*/account/security$")


async def go_stale(home: Path) -> None:
    """Every login in the site's database signed in an hour ago."""
    engine = create_engine(f"sqlite:///{home}/authward.db")
    try:
        async with engine.begin() as conn:
            an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
            await conn.execute(update(sessions).values(auth_time=an_hour_ago))
    finally:
        await engine.dispose()


async def expect_reauth(page: Page) -> None:
    await expect(page).to_have_url(re.compile(r"/reauth\?next=/account/security$"))
    await expect(page.get_by_role("heading", name="Confirm it's you")).to_be_visible()


async def test_a_stale_login_confirms_with_the_password_and_comes_back(
    chromium: Browser,  # noqa: F811 - the imported fixture, requested by name
    site: str,
    home: Path,
) -> None:
    context, page, _, _ = await with_authenticator(chromium, site)
    await register(page, "ada@example.com")
    await page.goto("/account/security")
    await go_stale(home)
    # The page was open before the login went stale: its button's POST takes the detour.
    await page.get_by_role("button", name="Set up an authenticator app").click()
    await expect_reauth(page)
    await page.get_by_label("Password").fill("not the password")
    await page.get_by_role("button", name="Continue", exact=True).click()
    await expect(page.get_by_role("alert")).to_contain_text("password is not correct")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Continue", exact=True).click()
    await expect(page).to_have_url(BACK_ON_SECURITY)
    await page.get_by_role("button", name="Set up an authenticator app").click()
    await expect(page.locator(".qr svg")).to_be_visible()
    await context.close()


async def test_a_stale_login_confirms_with_a_passkey_and_comes_back(
    chromium: Browser,  # noqa: F811 - the imported fixture, requested by name
    site: str,
    home: Path,
) -> None:
    context, page, _, _ = await with_authenticator(chromium, site)
    await register(page, "bea@example.com")
    await add_passkey(page, "This laptop")
    await go_stale(home)
    await page.goto("/account/security")
    await expect_reauth(page)
    await expect(page.get_by_role("button", name="Use a passkey")).to_be_visible()
    await _shoot(page, "reauth")  # every way the account has: a password and a passkey
    await page.get_by_role("button", name="Use a passkey").click()
    await expect(page).to_have_url(BACK_ON_SECURITY)
    await page.locator("#passkeys summary").click()
    await page.get_by_role("button", name="Remove passkey This laptop").click()
    await expect(page.get_by_role("status").first).to_contain_text("Passkey removed")
    await expect(page.get_by_text("No passkeys yet.")).to_be_visible()
    await context.close()


async def test_a_login_grown_old_on_an_open_page_steps_up_before_a_new_passkey(
    chromium: Browser,  # noqa: F811 - the imported fixture, requested by name
    site: str,
    home: Path,
) -> None:
    """The passkey button asks the API for its options (a step-up): the script follows the
    RFC 9470 challenge to /reauth rather than failing, and the person comes back."""
    context, page, _, _ = await with_authenticator(chromium, site)
    await register(page, "cleo@example.com")
    await page.goto("/account/security")
    await go_stale(home)
    form = page.locator("form[data-passkey=register]")
    await form.get_by_label("Name").fill("Laptop")
    await form.get_by_role("button", name="Add a passkey").click()
    await expect_reauth(page)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Continue", exact=True).click()
    await expect(page).to_have_url(BACK_ON_SECURITY)
    await add_passkey(page, "Laptop")
    await context.close()


async def test_a_device_with_passkeys_of_two_accounts_offers_the_callers_on_reauth(
    chromium: Browser,  # noqa: F811 - the imported fixture, requested by name
    site: str,
    home: Path,
) -> None:
    """The step-up's options list the caller's passkeys only: the authenticator, holding
    one of each account, answers with the right one (discoverable options would let it
    answer with either)."""
    context, page, cdp, authenticator = await with_authenticator(chromium, site)
    for email in ("dee@example.com", "cal@example.com"):
        await register(page, email)
        await add_passkey(page, "Shared laptop")
        await sign_out(page)
    held = await cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})
    assert len(held["credentials"]) == 2
    for email in ("dee@example.com", "cal@example.com"):
        await page.goto("/login")
        await page.get_by_label("Email").fill(email)
        await page.get_by_label("Password").fill(PASSWORD)
        await page.get_by_role("button", name="Sign in", exact=True).click()
        await expect(page).to_have_url(re.compile("/account$"))
        await go_stale(home)
        await page.goto("/account/security")
        await expect_reauth(page)
        await page.get_by_role("button", name="Use a passkey").click()
        await expect(page).to_have_url(BACK_ON_SECURITY)
        await sign_out(page)
    await context.close()
