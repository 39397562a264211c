"""The pages in a real browser (Debian's Chromium) against a real `authward serve`.

Each flow is what a person does with a mouse or keyboard; along the way the tests take
screenshots of every page at desktop and phone width. They land in docs/screenshots/ only
when asked (`make screenshots`), so a test run leaves the tree as it found it.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright, expect

from tests.conftest import unavailable
from tests.servers import free_port

CHROMIUM: Final = "/usr/bin/chromium"
CHROMIUM_ARGS: Final = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS: Final = Path(
    os.environ.get("AUTHWARD_SCREENSHOTS_DIR")
    or Path(tempfile.gettempdir()) / "authward-screenshots"
)
DESKTOP: Final = {"width": 1280, "height": 800}
PHONE: Final = {"width": 390, "height": 844}
IPHONE_UA: Final = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
)
PASSWORD: Final = "correct horse battery staple"

expect.set_options(timeout=10_000)


@dataclass(frozen=True)
class Served:
    process: subprocess.Popen[bytes]
    base: str
    log: Path


@pytest.fixture(scope="module")
def serving(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """Start `authward serve` on a free loopback port, with its own database and key file."""
    if not Path(CHROMIUM).exists():
        unavailable("Chromium", f"{CHROMIUM} is missing (make browser installs it)")
    home = tmp_path_factory.mktemp("served")
    port = free_port()
    env = {name: value for name, value in os.environ.items() if not name.startswith("AUTHWARD_")}
    env |= {
        "AUTHWARD_DATABASE_URL": f"sqlite:///{home}/authward.db",
        "AUTHWARD_KEY_FILE": str(home / "authward.key"),
        "AUTHWARD_INSECURE_COOKIES": "1",
        "AUTHWARD_ARGON2_TIME_COST": "1",
        "AUTHWARD_ARGON2_MEMORY_KIB": "8",
        "AUTHWARD_ARGON2_PARALLELISM": "1",
    }
    log = home / "server.log"
    command = [sys.executable, "-m", "authward", "serve", "--port", str(port)]
    with log.open("wb") as output:
        process = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT)  # noqa: S603
    try:
        yield Served(process, f"http://127.0.0.1:{port}", log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
async def browser(serving: Served) -> AsyncIterator[Browser]:
    """Chromium, launched while the server is still starting."""
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield launched
        await launched.close()


@pytest.fixture(scope="module")
def server(serving: Served, browser: Browser) -> str:
    """The base URL, once the server answers."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if serving.process.poll() is not None:
            pytest.fail(f"authward serve exited:\n{serving.log.read_text(errors='replace')}")
        try:
            if httpx.get(f"{serving.base}/healthz", timeout=1).status_code == 200:
                return serving.base
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    pytest.fail(f"authward serve did not come up:\n{serving.log.read_text(errors='replace')}")


async def _context(browser: Browser, server: str, *, phone: bool = False) -> BrowserContext:
    context = await _new_context(browser, server, phone)
    context.set_default_timeout(10_000)
    return context


async def _new_context(browser: Browser, server: str, phone: bool) -> BrowserContext:
    if phone:
        return await browser.new_context(
            base_url=server,
            viewport=PHONE,
            is_mobile=True,
            has_touch=True,
            user_agent=IPHONE_UA,
            java_script_enabled=False,
        )
    return await browser.new_context(base_url=server, viewport=DESKTOP, java_script_enabled=False)


async def _shoot(page: Page, name: str, phone: bool = False) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    suffix = "phone" if phone else "desktop"
    await page.screenshot(path=SCREENSHOTS / f"{name}-{suffix}.png")


async def _register(page: Page, email: str, next_path: str = "/account") -> None:
    await page.goto(f"/register?next={next_path}")
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Create account").click()
    await expect(page).to_have_url(re.compile(f"{re.escape(next_path)}$"))


async def _sign_in(page: Page, email: str) -> None:
    """Sign in with the keyboard only: the email field has focus, then Tab, then Enter."""
    await page.goto("/login")
    await expect(page.get_by_label("Email")).to_be_focused()  # autofocus, no script
    await page.keyboard.type(email)
    await page.keyboard.press("Tab")
    await page.keyboard.type(PASSWORD)
    await page.keyboard.press("Enter")
    await expect(page).to_have_url(re.compile("/account$"))


async def test_register_sign_out_and_sign_in(browser: Browser, server: str) -> None:
    async def flow(phone: bool) -> None:
        context = await _context(browser, server, phone=phone)
        page = await context.new_page()
        await page.goto("/register")
        await _shoot(page, "register", phone)
        email = f"{'phone' if phone else 'desk'}@example.com"
        await page.get_by_label("Email").fill(email)
        await page.get_by_label("Password").fill(PASSWORD)
        await page.get_by_role("button", name="Create account").click()
        await expect(page).to_have_url(f"{server}/account")
        await expect(page.get_by_text(f"Signed in as {email}")).to_be_visible()
        await page.get_by_role("navigation").get_by_role("button", name="Sign out").click()
        await expect(page).to_have_url(f"{server}/login")
        await _shoot(page, "login", phone)
        await _sign_in(page, email)
        await context.close()

    await asyncio.gather(flow(phone=False), flow(phone=True))


async def test_a_second_browser_is_listed_and_signed_out_from_the_first(
    browser: Browser, server: str
) -> None:
    laptop = await _context(browser, server)
    phone = await _context(browser, server, phone=True)
    on_laptop, on_phone = await laptop.new_page(), await phone.new_page()
    await _register(on_laptop, "ada@example.com")
    await _sign_in(on_phone, "ada@example.com")
    await expect(on_phone).to_have_url(f"{server}/account")
    await _shoot(on_phone, "account", phone=True)

    await on_laptop.reload()
    listed = on_laptop.locator(".devices li", has_text="Mobile Safari 17 on iOS 17")
    await expect(listed).to_have_count(1)
    await _shoot(on_laptop, "account")
    await listed.get_by_role("button", name="Sign out").click()
    await expect(on_laptop.get_by_text("That session was signed out.")).to_be_visible()
    await expect(on_laptop.locator(".devices li")).to_have_count(0)

    await on_phone.reload()
    await expect(on_phone).to_have_url(f"{server}/login?next=/account")
    await on_laptop.goto("/account")
    await expect(on_laptop).to_have_url(f"{server}/account")
    await laptop.close()
    await phone.close()


async def test_sign_out_everywhere(browser: Browser, server: str) -> None:
    first, second = await _context(browser, server), await _context(browser, server)
    one, two = await first.new_page(), await second.new_page()
    await _register(one, "everywhere@example.com")
    await _sign_in(two, "everywhere@example.com")
    await expect(two).to_have_url(f"{server}/account")
    await one.reload()
    await one.get_by_role("button", name="Sign out everywhere").click()
    await expect(one).to_have_url(f"{server}/login?notice=everywhere")
    await expect(one.get_by_text("You were signed out on every device.")).to_be_visible()
    await two.reload()
    await expect(two).to_have_url(f"{server}/login?next=/account")
    await first.close()
    await second.close()


async def test_a_wrong_password_says_so_without_saying_which(browser: Browser, server: str) -> None:
    context = await _context(browser, server)
    page = await context.new_page()
    await _register(page, "wrong@example.com")
    await context.clear_cookies()
    for email in ("wrong@example.com", "nobody@example.com"):
        await page.goto("/login")
        await page.get_by_label("Email").fill(email)
        await page.get_by_label("Password").fill("not the password")
        async with page.expect_navigation() as navigation:
            await page.get_by_role("button", name="Sign in").click()
        assert (await navigation.value).status == 400  # type: ignore[union-attr]
        alert = page.get_by_role("alert")
        await expect(alert).to_have_text(
            "The email or password is not correct. Check both and try again."
        )
        await expect(page.get_by_label("Email")).to_have_value(email)
    await context.close()


async def test_a_form_without_its_csrf_token_is_refused(browser: Browser, server: str) -> None:
    context = await browser.new_context(base_url=server, viewport=DESKTOP)  # JS, for the test
    page = await context.new_page()
    await page.goto("/login")
    password_form = page.locator("form[action='/login']")
    await password_form.locator("input[name=csrf_token]").evaluate("field => field.remove()")
    await page.get_by_label("Email").fill("csrf@example.com")
    await page.get_by_label("Password").fill(PASSWORD)
    async with page.expect_navigation() as navigation:
        await page.get_by_role("button", name="Sign in", exact=True).click()
    assert (await navigation.value).status == 403  # type: ignore[union-attr]
    await expect(page.get_by_role("alert")).to_contain_text("This form expired")

    await _register(page, "csrf@example.com")
    form = page.locator("form[action='/account/sign-out-everywhere']")
    await form.locator("input[name=csrf_token]").evaluate("field => field.value = 'forged'")
    async with page.expect_navigation() as navigation:
        await page.get_by_role("button", name="Sign out everywhere").click()
    assert (await navigation.value).status == 403  # type: ignore[union-attr]
    await expect(page.get_by_role("heading", name="Request refused")).to_be_visible()
    await page.goto("/account")
    await expect(page).to_have_url(f"{server}/account")  # nothing was done
    await context.close()


async def test_how_revokes_the_token_and_the_session(browser: Browser, server: str) -> None:
    async def on_a_phone() -> None:
        context = await _context(browser, server, phone=True)
        page = await context.new_page()
        await _register(page, "how-phone@example.com", "/how")
        await page.get_by_role("button", name="Issue an access token").click()
        await expect(page.locator("#token pre")).to_have_count(2)
        await _shoot(page, "how", phone=True)
        await context.close()

    async def on_a_laptop() -> None:
        context = await _context(browser, server)
        page = await context.new_page()
        await _register(page, "how@example.com", "/how")
        await page.get_by_role("button", name="Issue an access token").click()
        token, session = page.locator("#token"), page.locator("#session")
        await expect(token.locator("pre").nth(1)).to_contain_text('"sub"')
        await _shoot(page, "how")

        await token.get_by_role("button", name="Test it").click()
        await expect(token.get_by_role("status")).to_contain_text("accepted: 200")
        await token.get_by_role("button", name="Revoke token").click()
        await expect(token.get_by_role("status")).to_contain_text("refused: 401")
        await expect(token.get_by_role("status")).to_contain_text("though it has not expired")
        await token.get_by_role("button", name="Test it").click()
        await expect(token.get_by_role("status")).to_contain_text("refused: 401")

        await session.get_by_role("button", name="Test it").click()
        await expect(session.get_by_role("status")).to_contain_text("accepted: 200")
        await session.get_by_role("button", name="Revoke session").click()
        await expect(session.get_by_role("status")).to_contain_text("refused: 401")
        await session.get_by_role("button", name="Test it").click()
        await expect(session.get_by_role("status")).to_contain_text("refused: 401")
        await page.goto("/account")
        await expect(page).to_have_url(f"{server}/login?next=/account")
        await context.close()

    await asyncio.gather(on_a_phone(), on_a_laptop())


async def test_a_lost_browser_gets_pages(browser: Browser, server: str) -> None:
    """Issue 18.10: the root leads to the account (so, signed out, to sign-in); an
    unknown address is a page in the site's style; HEAD works over real HTTP."""
    context = await _context(browser, server)
    page = await context.new_page()
    await page.goto("/")
    await expect(page).to_have_url(re.compile(r"/login\?next=%2Faccount$|/login\?next=/account$"))
    missing = await page.goto("/no/such/page")
    assert missing is not None and missing.status == 404
    await expect(page).to_have_title("Page not found · authward")
    await expect(page.get_by_role("link", name="Back to your account")).to_be_visible()
    await _shoot(page, "not-found")
    await context.close()
    async with httpx.AsyncClient(base_url=server) as client:
        got, head = await client.get("/login"), await client.head("/login")
    assert head.status_code == got.status_code == 200
    assert head.content == b"" and head.headers["content-length"] == str(len(got.content))
