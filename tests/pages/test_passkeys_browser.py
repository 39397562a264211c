"""Passkeys in a real browser: Chromium's virtual authenticator against `authward serve`.

The authenticator is Chromium's own (DevTools protocol, ``WebAuthn.addVirtualAuthenticator``:
CTAP2, built in, resident keys, user verification), so the page's script, the browser's
WebAuthn code and the server's verification all run as they do for a person. The site
is ``http://localhost:<port>``: WebAuthn needs a secure context and a domain for the RP
id, and localhost is both (the browser is told it is 127.0.0.1, where the server listens).
"""

from __future__ import annotations

import base64
import os
import re
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from playwright.async_api import Browser, BrowserContext, CDPSession, Page, async_playwright, expect

from authward.factors.passkeys import MAX_PASSKEYS
from tests.conftest import unavailable
from tests.pages.test_pages_browser import CHROMIUM, CHROMIUM_ARGS, DESKTOP, PASSWORD, _shoot
from tests.servers import free_port
from tests.web.passkey_helpers import SoftKey

AUTHENTICATOR = {
    "protocol": "ctap2",
    "transport": "internal",
    "hasResidentKey": True,
    "hasUserVerification": True,
    "isUserVerified": True,
    "automaticPresenceSimulation": True,
}


@contextmanager
def serving_site(home: Path, extra_env: dict[str, str] | None = None) -> Iterator[str]:
    """`authward serve` on a free loopback port with its database in `home`; its public
    URL, on localhost."""
    if not Path(CHROMIUM).exists():
        unavailable("Chromium", f"{CHROMIUM} is missing (make browser installs it)")
    port = free_port()
    env = {name: value for name, value in os.environ.items() if not name.startswith("AUTHWARD_")}
    env |= {
        "AUTHWARD_DATABASE_URL": f"sqlite:///{home}/authward.db",
        "AUTHWARD_KEY_FILE": str(home / "authward.key"),
        "AUTHWARD_INSECURE_COOKIES": "1",
        "AUTHWARD_PUBLIC_URL": f"http://localhost:{port}",
        "AUTHWARD_ARGON2_TIME_COST": "1",
        "AUTHWARD_ARGON2_MEMORY_KIB": "8",
        "AUTHWARD_ARGON2_PARALLELISM": "1",
        **(extra_env or {}),
    }
    log = home / "server.log"
    command = [sys.executable, "-m", "authward", "serve", "--port", str(port)]
    with log.open("wb") as output:
        process = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT)  # noqa: S603
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"authward serve did not come up:\n{log.read_text(errors='replace')}")
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.05)
        yield f"http://localhost:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`authward serve` on a free loopback port, its public URL on localhost."""
    with serving_site(tmp_path_factory.mktemp("passkeys")) as url:
        yield url


@pytest.fixture(scope="module")
async def chromium() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[*CHROMIUM_ARGS, "--host-resolver-rules=MAP localhost 127.0.0.1"],
        )
        yield launched
        await launched.close()


# The virtual authenticator answers an autofill (conditional) request at once, with no
# one choosing: as if the person picked the passkey the moment /login showed it. Tests
# of the button and of passwords take autofill away, as a browser without it would.
NO_AUTOFILL = (
    "if (window.PublicKeyCredential) delete PublicKeyCredential.isConditionalMediationAvailable;"
)


async def with_authenticator(
    browser: Browser,
    site: str,
    credential: dict[str, Any] | None = None,
    *,
    autofill: bool = False,
) -> tuple[BrowserContext, Page, CDPSession, str]:
    """A browser (script on) with a virtual authenticator, holding `credential` if given."""
    context = await browser.new_context(base_url=site, viewport=DESKTOP)
    context.set_default_timeout(10_000)
    if not autofill:
        await context.add_init_script(NO_AUTOFILL)
    page = await context.new_page()
    cdp = await context.new_cdp_session(page)
    await cdp.send("WebAuthn.enable", {"enableUI": False})
    added = await cdp.send("WebAuthn.addVirtualAuthenticator", {"options": AUTHENTICATOR})
    authenticator: str = added["authenticatorId"]
    if credential is not None:
        await cdp.send(
            "WebAuthn.addCredential", {"authenticatorId": authenticator, "credential": credential}
        )
    return context, page, cdp, authenticator


async def register(page: Page, email: str) -> None:
    await page.goto("/register")
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Create account").click()
    await expect(page).to_have_url(re.compile("/account$"))


async def add_passkey(page: Page, name: str) -> None:
    await page.goto("/account/security")
    form = page.locator("form[data-passkey=register]")
    await form.get_by_label("Name").fill(name)
    await form.get_by_role("button", name="Add a passkey").click()
    await expect(page.get_by_role("status").first).to_contain_text("Passkey added")


async def sign_out(page: Page) -> None:
    await page.goto("/account")
    await page.get_by_role("navigation").get_by_role("button", name="Sign out").click()
    await expect(page).to_have_url(re.compile("/login$"))


async def how_signed_in(page: Page) -> dict[str, Any]:
    me = await page.request.get("/auth/me")
    assert me.status == 200, await me.text()
    body: dict[str, Any] = await me.json()
    return body


def session_cookies(context_cookies: list[Any]) -> list[Any]:
    return [c for c in context_cookies if c["name"] == "authward_session"]


async def test_register_a_passkey_and_sign_in_with_it_alone(chromium: Browser, site: str) -> None:
    context, page, cdp, authenticator = await with_authenticator(chromium, site)
    await register(page, "ada@example.com")
    await page.goto("/account/security")
    await expect(page.get_by_text("No passkeys yet.")).to_be_visible()
    await add_passkey(page, "This laptop")
    listed = page.locator("#passkeys li")
    await expect(listed).to_have_count(1)
    await expect(listed).to_contain_text("This laptop")
    await expect(listed).to_contain_text("never")  # not used yet
    held = await cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})
    assert len(held["credentials"]) == 1 and held["credentials"][0]["isResidentCredential"]
    await _shoot(page, "security-passkeys")

    # excludeCredentials: the same authenticator will not make a second one for us.
    form = page.locator("form[data-passkey=register]")
    await form.get_by_label("Name").fill("Again")
    await form.get_by_role("button", name="Add a passkey").click()
    await expect(form.locator("[data-passkey-status]")).to_contain_text("No passkey was made")
    await expect(listed).to_have_count(1)

    await sign_out(page)
    await _shoot(page, "login-passkey")
    await page.get_by_role("button", name="Sign in with a passkey").click()
    await expect(page).to_have_url(re.compile("/account$"))
    me = await how_signed_in(page)
    assert (me["email"], me["amr"], me["aal"]) == ("ada@example.com", ["hwk", "user"], "aal2")
    await page.goto("/account/security")
    await expect(listed).not_to_contain_text("never")
    held = await cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})
    await context.close()

    # Autofill: the same passkey on another browser that offers it; no button, no email.
    copy = held["credentials"][0]
    context, page, _, _ = await with_authenticator(chromium, site, copy, autofill=True)
    await page.goto("/login")
    await expect(page).to_have_url(re.compile("/account$"))
    assert (await how_signed_in(page))["amr"] == ["hwk", "user"]
    await context.close()


async def test_a_passkey_is_the_second_step_after_a_password(chromium: Browser, site: str) -> None:
    context, page, _, _ = await with_authenticator(chromium, site)
    email = "bea@example.com"
    await register(page, email)
    await add_passkey(page, "Phone")
    # Turn the authenticator app on through the page: the QR code, then a first code.
    await page.get_by_role("button", name="Set up an authenticator app").click()
    await expect(page.locator(".qr svg")).to_be_visible()
    await _shoot(page, "security-totp")
    secret = await page.locator("#totp-secret").inner_text()
    await page.get_by_label("The code your app shows").fill(pyotp.TOTP(secret).now())
    await page.get_by_role("button", name="Turn on").click()
    await expect(page.locator("#recovery-codes li")).to_have_count(10)
    await _shoot(page, "security-recovery-codes")
    await page.goto("/account/security")
    await expect(page.locator("#recovery-codes")).to_have_count(0)  # shown once only
    await _shoot(page, "security")

    await sign_out(page)
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in", exact=True).click()
    await expect(page.get_by_role("heading", name="Enter your code")).to_be_visible()
    assert not session_cookies(await context.cookies())
    await _shoot(page, "login-mfa-passkey")
    await page.get_by_role("button", name="Use a passkey").click()
    await expect(page).to_have_url(re.compile("/account$"))
    me = await how_signed_in(page)
    assert (me["amr"], me["aal"]) == (["pwd", "hwk", "user"], "aal2")
    await context.close()


def other_key() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    der = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return base64.b64encode(der).decode()


async def test_a_cloned_credential_is_refused(chromium: Browser, site: str) -> None:
    context, page, cdp, authenticator = await with_authenticator(chromium, site)
    await register(page, "cy@example.com")
    await add_passkey(page, "Key")
    await sign_out(page)
    await page.get_by_role("button", name="Sign in with a passkey").click()  # the count moves
    await expect(page).to_have_url(re.compile("/account$"))
    held = await cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})
    original = held["credentials"][0]
    assert original["signCount"] >= 1
    await context.close()

    # The same credential id and user with another private key: the signature is wrong.
    forged = {**original, "privateKey": other_key(), "signCount": original["signCount"] + 100}
    context, page, _, _ = await with_authenticator(chromium, site, forged)
    await page.goto("/login")
    await page.get_by_role("button", name="Sign in with a passkey").click()
    await expect(page.get_by_role("alert")).to_contain_text("That passkey was not accepted")
    assert not session_cookies(await context.cookies())
    await context.close()

    # The real key copied off the authenticator with its counter behind: a clone.
    copied = {**original, "signCount": 0}
    context, page, _, _ = await with_authenticator(chromium, site, copied)
    await page.goto("/login")
    await page.get_by_role("button", name="Sign in with a passkey").click()
    await expect(page.get_by_role("alert")).to_contain_text("That passkey was not accepted")
    assert not session_cookies(await context.cookies())
    await context.close()


async def test_the_page_says_why_the_server_refused_before_any_passkey(
    chromium: Browser, tmp_path: Path
) -> None:
    """409 (the account holds the most passkeys) and 429 (this address had its
    challenges) each get their own sentence, not "no passkey was made/used"."""
    limit = MAX_PASSKEYS + 2  # challenges per address: the test's own, then one too many
    extra = {"AUTHWARD_LOGIN_ADDRESS_MAX_FAILURES": str(limit)}
    with serving_site(tmp_path, extra) as site:
        context, page, _, _ = await with_authenticator(chromium, site)
        await register(page, "cy@example.com")
        await page.goto("/account/security")
        form = page.locator("form[data-passkey=register]")
        csrf = {"X-CSRF-Token": await form.locator("input[name=csrf_token]").input_value()}

        async def add_through_the_api(name: str) -> None:  # as another tab would, say
            options = await page.request.post(
                "/auth/factors/passkeys/options", headers=csrf, data={}
            )
            assert options.ok, await options.text()
            credential = SoftKey().create(await options.json(), origin=site, rp_id="localhost")
            body = {"credential": credential, "name": name}
            added = await page.request.post("/auth/factors/passkeys", headers=csrf, data=body)
            assert added.status == 201, await added.text()

        for number in range(MAX_PASSKEYS - 1):
            await add_through_the_api(f"Key {number}")
        await page.reload()  # one place left: the form is there...
        await add_through_the_api("The last one")  # ...and another tab takes the place
        await form.get_by_label("Name").fill("One more")
        await form.get_by_role("button", name="Add a passkey").click()
        status = form.locator("[data-passkey-status]")
        await expect(status).to_contain_text("as many passkeys as it may")

        await sign_out(page)
        refused = 0
        async with httpx.AsyncClient(base_url=site.replace("localhost", "127.0.0.1")) as client:
            for _ in range(limit):  # the rest of this address's challenges
                if (await client.post("/auth/passkey/options")).status_code == 429:
                    refused += 1
                    break
        assert refused == 1
        await page.get_by_role("button", name="Sign in with a passkey").click()
        login_status = page.locator("form[data-passkey=login] [data-passkey-status]")
        await expect(login_status).to_contain_text("Too many attempts from here")
        await context.close()
