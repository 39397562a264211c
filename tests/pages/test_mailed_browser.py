"""The reset and verification flows in a real browser, with the mail over real SMTP.

`authward serve` runs with its sender pointed at an aiosmtpd server this module starts;
each link is taken out of the mail that server received and opened in Chromium, as a
person would open it from their inbox.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Final

import pytest
from playwright.async_api import Browser, Page, Request, expect

from tests.conftest import unavailable
from tests.mail.smtp_server import SmtpServer

# The browser and the server's readiness check are test_pages_browser's fixtures, taken in
# by name; `serving` is this module's own (it adds the SMTP server).
from tests.pages.test_pages_browser import (  # noqa: F401 - fixtures, requested by name
    CHROMIUM,
    PASSWORD,
    Served,
    _context,
    _shoot,
    browser,
    server,
)
from tests.servers import free_port

NEW_PASSWORD: Final = "a brand new horse battery"
LINK: Final = re.compile(r"(https?://\S+/(?:reset|verify)\?token=[A-Za-z0-9_-]{43})")
MAIL_WAIT: Final = 30.0  # seconds a mail may take through the outbox and SMTP


@pytest.fixture(scope="module")
def smtp() -> Iterator[SmtpServer]:
    mail_server = SmtpServer()
    mail_server.start()
    yield mail_server
    mail_server.stop()


@pytest.fixture(scope="module")
def serving(tmp_path_factory: pytest.TempPathFactory, smtp: SmtpServer) -> Iterator[Served]:
    """`authward serve` on a free loopback port, mailing through `smtp`."""
    if not Path(CHROMIUM).exists():
        unavailable("Chromium", f"{CHROMIUM} is missing (make browser installs it)")
    home = tmp_path_factory.mktemp("served-mail")
    port = free_port()
    env = {name: value for name, value in os.environ.items() if not name.startswith("AUTHWARD_")}
    env |= {
        "AUTHWARD_DATABASE_URL": f"sqlite:///{home}/authward.db",
        "AUTHWARD_KEY_FILE": str(home / "authward.key"),
        "AUTHWARD_INSECURE_COOKIES": "1",
        "AUTHWARD_ARGON2_TIME_COST": "1",
        "AUTHWARD_ARGON2_MEMORY_KIB": "8",
        "AUTHWARD_ARGON2_PARALLELISM": "1",
        "AUTHWARD_SMTP_URL": smtp.url,
        "AUTHWARD_PUBLIC_URL": f"http://127.0.0.1:{port}",
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


async def _mail(smtp: SmtpServer, to: str, subject_word: str, seen: int = 0) -> EmailMessage:
    """The next mail to `to` whose subject has `subject_word`, once the server received it.

    A wait, not a timed assertion: the deadline only keeps a lost mail from hanging the run.
    """
    deadline = time.monotonic() + MAIL_WAIT
    while time.monotonic() < deadline:
        found = [
            m
            for m in smtp.messages()
            if m["To"] == to and subject_word.lower() in str(m["Subject"]).lower()
        ]
        if len(found) > seen:
            return found[seen]
        await asyncio.sleep(0.05)
    pytest.fail(f"no {subject_word!r} mail to {to}: {[m['Subject'] for m in smtp.messages()]}")


def _link(mail: EmailMessage, base: str) -> str:
    body = mail.get_body(("plain",))
    assert body is not None
    found = LINK.search(body.get_content())
    assert found is not None, body.get_content()
    link = found.group(1)
    assert link.startswith(f"{base}/"), link  # built from the configured base URL
    return link


async def _sign_in(page: Page, email: str, password: str) -> None:
    await page.goto("/login")
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign in").click()


async def test_verify_then_forgot_reset_and_sign_in(
    browser: Browser,  # noqa: F811 - the imported fixture, requested by name
    server: str,  # noqa: F811 - likewise
    smtp: SmtpServer,
) -> None:
    email = "reset@example.com"
    context = await _context(browser, server)
    page = await context.new_page()

    # Register: the verification mail arrives; its link shows a button, the button verifies.
    await page.goto("/register")
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Create account").click()
    await expect(page).to_have_url(f"{server}/account")
    await expect(page.locator("#email-state")).to_have_text("not confirmed")
    verify_link = _link(await _mail(smtp, email, "confirm"), server)
    await page.goto(verify_link)
    await _shoot(page, "verify")
    second_tab = await context.new_page()
    await second_tab.goto("/account")  # the link's GET (a scanner's prefetch) changed nothing
    await expect(second_tab.locator("#email-state")).to_have_text("not confirmed")
    await second_tab.close()
    await page.get_by_role("button", name="Confirm my email").click()
    await expect(page).to_have_url(f"{server}/account?notice=verified")
    await expect(page.locator("#email-state")).to_have_text("confirmed")

    # Another browser signed in: the reset must end its session.
    elsewhere = await _context(browser, server, phone=True)
    other = await elsewhere.new_page()
    await _sign_in(other, email, PASSWORD)
    await expect(other).to_have_url(f"{server}/account")

    # Forgot: from the sign-in page, to the check-your-mail page.
    await page.get_by_role("navigation").get_by_role("button", name="Sign out").click()
    await page.get_by_role("link", name="Forgot your password?").click()
    await expect(page).to_have_url(f"{server}/forgot")
    await _shoot(page, "forgot")
    await page.get_by_label("Email").fill(email)
    await page.get_by_role("button", name="Mail me a link").click()
    await expect(page.get_by_role("heading", name="Check your mail")).to_be_visible()
    await _shoot(page, "check-mail")

    # The link: the token leaves the address bar at once, and no request carries it again.
    reset_link = _link(await _mail(smtp, email, "reset"), server)
    token = reset_link.rpartition("=")[2]
    carried: list[str] = []

    def watch(request: Request) -> None:
        if request.url != reset_link:
            headers = " ".join(request.headers.values())
            if token in request.url or token in headers:
                carried.append(request.url)

    page.on("request", watch)
    await page.goto(reset_link)
    await expect(page).to_have_url(f"{server}/reset")
    await _shoot(page, "reset")
    await page.get_by_label("New password").fill(NEW_PASSWORD)
    await page.get_by_role("button", name="Set new password").click()
    await expect(page).to_have_url(f"{server}/login?notice=reset")
    await expect(page.get_by_text("Your password was changed")).to_be_visible()
    page.remove_listener("request", watch)
    assert carried == []
    await _mail(smtp, email, "was changed")  # the notice that the password changed

    # The old password is refused, the new one works; the other browser's session ended.
    await _sign_in(page, email, PASSWORD)
    await expect(page.get_by_text("The email or password is not correct")).to_be_visible()
    await _sign_in(page, email, NEW_PASSWORD)
    await expect(page).to_have_url(f"{server}/account")
    await other.goto("/account")
    await expect(other).to_have_url(re.compile(r"/login"))

    # The same link again: refused, and nothing changes.
    await page.goto(reset_link)
    await page.get_by_label("New password").fill("someone else's choice")
    await page.get_by_role("button", name="Set new password").click()
    await expect(page.get_by_text("This link is invalid or has expired")).to_be_visible()
    await page.goto("/account")
    await expect(page).to_have_url(f"{server}/account")  # still signed in: nothing was reset
    await context.close()
    await elsewhere.close()
