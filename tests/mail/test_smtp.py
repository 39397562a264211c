"""SMTP over TLS (STARTTLS, implicit), with a login, and what the URL may say."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from authward.clock import FrozenClock
from authward.mail import Mail, Renderer
from authward.mail.sender import MailSender
from authward.mail.smtp import SmtpServer as SmtpAddress
from authward.mail.smtp import SmtpTransport
from authward.mail.sql import SqlOutbox
from tests.mail.smtp_server import PASSWORD, USER, Certificate, SmtpServer

KEY = bytes(range(32))
MAIL = Mail(
    "ada@example.com",
    "password_changed",
    {"email": "ada@example.com"},
)


@pytest.fixture
def queue(sqlite_engine: AsyncEngine, clock: FrozenClock) -> SqlOutbox:
    return SqlOutbox(sqlite_engine, Renderer(), KEY, clock)


@pytest.fixture(params=["starttls", "implicit"])
def tls_smtp(request: pytest.FixtureRequest, certificate: Certificate) -> Iterator[SmtpServer]:
    server = SmtpServer(certificate=certificate, mode=request.param)
    server.start()
    yield server
    server.stop()


def sender(queue: SqlOutbox, url: str, clock: FrozenClock, cert: Certificate) -> MailSender:
    transport = SmtpTransport(
        SmtpAddress.from_url(url), timeout=5, tls_context=cert.client_context()
    )
    return MailSender(queue, transport, "authward@example.com", clock)


async def test_a_mail_goes_out_over_tls(
    queue: SqlOutbox, tls_smtp: SmtpServer, clock: FrozenClock, certificate: Certificate
) -> None:
    await queue.enqueue(MAIL)
    await sender(queue, tls_smtp.url, clock, certificate).run_once()
    assert [e.last_error for e in await queue.entries()] == [None]
    assert [m["To"] for m in tls_smtp.messages()] == ["ada@example.com"]


async def test_a_wrong_password_keeps_the_mail_and_shows_no_password(
    queue: SqlOutbox, certificate: Certificate, clock: FrozenClock, caplog: pytest.LogCaptureFixture
) -> None:
    tls_smtp = SmtpServer(certificate=certificate, mode="starttls")
    tls_smtp.start()
    try:
        await _wrong_password(queue, tls_smtp, certificate, clock, caplog)
    finally:
        tls_smtp.stop()


async def _wrong_password(
    queue: SqlOutbox,
    tls_smtp: SmtpServer,
    certificate: Certificate,
    clock: FrozenClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "wr0ng-pa55word-here"
    url = tls_smtp.url.replace(PASSWORD, wrong)
    mail_sender = sender(queue, url, clock, certificate)
    await queue.enqueue(MAIL)
    await mail_sender.run_once()
    [entry] = await queue.entries()
    assert entry.state == "queued" and entry.last_error is not None
    assert entry.last_error.startswith("535")  # the login, not the mail: it waits
    for text in (caplog.text, entry.last_error, repr(mail_sender.transport)):
        assert wrong not in text
    assert tls_smtp.messages() == []


async def test_starttls_required_sends_nothing_in_the_clear(
    queue: SqlOutbox, smtp: SmtpServer, clock: FrozenClock, certificate: Certificate
) -> None:
    # `smtp` offers no STARTTLS: a URL that requires it must not fall back to plain text.
    url = f"{smtp.url}?starttls=require"
    await queue.enqueue(MAIL)
    await sender(queue, url, clock, certificate).run_once()
    assert smtp.messages() == []
    [entry] = await queue.entries()
    assert entry.state == "queued" and entry.last_error is not None


async def test_a_certificate_the_client_does_not_trust_sends_nothing(
    queue: SqlOutbox, tls_smtp: SmtpServer, clock: FrozenClock
) -> None:
    transport = SmtpTransport(SmtpAddress.from_url(tls_smtp.url), timeout=5)  # system CAs
    await queue.enqueue(MAIL)
    await MailSender(queue, transport, "authward@example.com", clock).run_once()
    assert tls_smtp.messages() == []
    [entry] = await queue.entries()
    assert entry.state == "queued"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://mail.example.com", ("mail.example.com", 587, "starttls-if-offered", None)),
        (
            "smtp://me%40example.com:p%3Ass@mail.example.com:2525?starttls=require",
            ("mail.example.com", 2525, "starttls-required", "me@example.com"),
        ),
        ("smtps://mail.example.com", ("mail.example.com", 465, "implicit", None)),
    ],
)
def test_the_url_names_host_port_tls_and_login(
    url: str, expected: tuple[str, int, str, str | None]
) -> None:
    server = SmtpAddress.from_url(url)
    assert (server.hostname, server.port, server.tls, server.username) == expected


def test_the_password_is_in_no_repr_or_description() -> None:
    server = SmtpAddress.from_url(f"smtp://{USER}:{PASSWORD}@mail.example.com")
    assert server.password == PASSWORD
    assert PASSWORD not in repr(server) and PASSWORD not in server.describe()


@pytest.mark.parametrize(
    "url", ["http://mail.example.com", "smtp://", "smtp://h:port", "smtp://h?starttls=no"]
)
def test_a_bad_url_is_refused(url: str) -> None:
    with pytest.raises(ValueError, match="AUTHWARD_SMTP_URL"):
        SmtpAddress.from_url(url)
