"""The sender against a real SMTP server: delivery, retries, refusals, the server away."""

from __future__ import annotations

import logging
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from authward.clock import FrozenClock
from authward.mail import Mail, Renderer
from authward.mail.backoff import Backoff
from authward.mail.sender import MailSender
from authward.mail.smtp import SmtpServer as SmtpAddress
from authward.mail.smtp import SmtpTransport
from authward.mail.sql import SqlOutbox, outbox
from tests.mail.smtp_server import SmtpServer

KEY = bytes(range(32))
FROM = "authward@auth.example.com"
NO_JITTER = Backoff(jitter=lambda: 1.0)


def reset(to: str = "ada@example.com", n: int = 0) -> Mail:
    link = f"https://auth.example.com/reset?token=live-token-{n}"
    return Mail(to, "password_reset", {"email": to, "link": link})


@pytest.fixture
def queue(sqlite_engine: AsyncEngine, clock: FrozenClock) -> SqlOutbox:
    return SqlOutbox(sqlite_engine, Renderer(), KEY, clock)


def sender_for(queue: SqlOutbox, smtp: SmtpServer, clock: FrozenClock) -> MailSender:
    transport = SmtpTransport(SmtpAddress.from_url(smtp.url), timeout=5)
    return MailSender(queue, transport, FROM, clock, backoff=NO_JITTER)


async def drain(sender: MailSender, clock: FrozenClock) -> None:
    """Run rounds, moving the clock past each backoff, until nothing is queued."""
    while (await sender.queue.waiting())[0]:
        await sender.run_once()
        clock.advance(timedelta(hours=1))


async def test_a_mail_goes_out_as_text_and_html_and_its_body_is_erased(
    queue: SqlOutbox, smtp: SmtpServer, clock: FrozenClock, sqlite_engine: AsyncEngine
) -> None:
    await queue.enqueue(reset())
    assert await sender_for(queue, smtp, clock).run_once() == 1
    [message] = smtp.messages()
    assert message["From"] == FROM and message["To"] == "ada@example.com"
    assert message["Subject"] == "Reset your password"
    assert message["Auto-Submitted"] == "auto-generated"
    [entry] = await queue.entries()
    assert message["Message-ID"] == f"<{entry.id}@auth.example.com>"
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    assert "https://auth.example.com/reset?token=live-token-0" in text.get_content()
    assert 'href="https://auth.example.com/reset?token=live-token-0"' in html.get_content()
    assert (entry.state, entry.attempts, entry.sent_at) == ("sent", 1, clock.now())
    async with sqlite_engine.connect() as conn:
        assert await conn.scalar(select(outbox.c.body)) is None


async def test_while_the_server_is_down_mails_wait_then_each_goes_out_once(
    queue: SqlOutbox, smtp: SmtpServer, clock: FrozenClock
) -> None:
    sender = sender_for(queue, smtp, clock)
    smtp.stop()
    for n in range(5):
        await queue.enqueue(reset(f"user{n}@example.com", n))
    for _ in range(3):  # three rounds while it is down: each mail deferred each time
        await sender.run_once()
        clock.advance(timedelta(hours=1))
    entries = await queue.entries("queued")
    assert len(entries) == 5 and all(e.last_error for e in entries)
    assert [e.attempts for e in entries] == [3] * 5
    smtp.start()
    await drain(sender, clock)
    received = Counter(m["To"] for m in smtp.messages())
    assert received == {f"user{n}@example.com": 1 for n in range(5)}
    assert [e.state for e in await queue.entries()] == ["sent"] * 5


async def test_a_mail_not_yet_due_is_not_sent(
    queue: SqlOutbox, smtp: SmtpServer, clock: FrozenClock
) -> None:
    sender = sender_for(queue, smtp, clock)
    smtp.stop()
    await queue.enqueue(reset())
    await sender.run_once()
    smtp.start()
    clock.advance(timedelta(seconds=29))  # the first retry is 30 s after (no jitter here)
    assert await sender.run_once() == 0
    clock.advance(timedelta(seconds=1))
    assert await sender.run_once() == 1
    assert len(smtp.messages()) == 1


async def test_a_permanent_refusal_fails_the_mail_at_once_and_spares_the_others(
    queue: SqlOutbox, smtp: SmtpServer, clock: FrozenClock
) -> None:
    await queue.enqueue(reset("refused@example.com", 1))
    await queue.enqueue(reset("ada@example.com", 2))
    await sender_for(queue, smtp, clock).run_once()
    by_recipient = {e.to: e for e in await queue.entries()}
    failed, sent = by_recipient["refused@example.com"], by_recipient["ada@example.com"]
    assert (failed.state, failed.attempts) == ("failed", 1)
    assert failed.last_error is not None and failed.last_error.startswith("550")
    assert sent.state == "sent"
    assert [m["To"] for m in smtp.messages()] == ["ada@example.com"]


async def test_a_temporary_refusal_is_retried(
    queue: SqlOutbox, smtp: SmtpServer, clock: FrozenClock
) -> None:
    await queue.enqueue(reset("later@example.com"))
    await sender_for(queue, smtp, clock).run_once()
    [entry] = await queue.entries()
    assert (entry.state, entry.attempts) == ("queued", 1)
    assert entry.next_attempt_at == clock.now() + timedelta(seconds=30)
    assert entry.last_error is not None and entry.last_error.startswith("451")


async def test_after_the_horizon_a_mail_fails_and_retry_sends_it(
    queue: SqlOutbox, smtp: SmtpServer, clock: FrozenClock
) -> None:
    sender = sender_for(queue, smtp, clock)
    smtp.stop()
    start = clock.now()
    await queue.enqueue(reset())
    attempts = 0
    while (await queue.entries("queued")) and attempts < 100:
        clock.set(max(clock.now(), (await queue.entries())[0].next_attempt_at))
        await sender.run_once()
        attempts += 1
    [entry] = await queue.entries()
    assert entry.state == "failed"
    # Retried for the whole horizon: the last attempt failed at 24 h or later.
    assert clock.now() - start >= timedelta(hours=24)
    assert entry.attempts == attempts >= 20
    smtp.start()
    assert await queue.retry(entry.id, clock.now())
    await sender.run_once()
    assert len(smtp.messages()) == 1
    assert [e.state for e in await queue.entries()] == ["sent"]


def test_backoff_doubles_up_to_its_cap_with_jitter() -> None:
    assert [NO_JITTER.delay(n).total_seconds() for n in (1, 2, 3, 8, 9, 50)] == [
        30,
        60,
        120,
        3600,
        3600,
        3600,
    ]
    assert Backoff(jitter=lambda: 0.5).delay(2) == timedelta(seconds=30)


async def test_without_smtp_each_mail_is_logged_once_with_its_link_and_stays_queued(
    queue: SqlOutbox, clock: FrozenClock, caplog: pytest.LogCaptureFixture
) -> None:
    sender = MailSender(queue, None, FROM, clock)
    caplog.set_level(logging.INFO, logger="authward.mail")
    sender.start()
    await sender.close()
    assert "AUTHWARD_SMTP_URL is not set" in caplog.text
    await queue.enqueue(reset())
    await sender.run_once()
    await sender.run_once()
    link = "https://auth.example.com/reset?token=live-token-0"
    assert caplog.text.count(link) == 1
    [entry] = await queue.entries()
    assert (entry.state, entry.attempts) == ("queued", 0)
