"""The mail settings refuse what cannot work; the metrics count what the sender did."""

from __future__ import annotations

from datetime import timedelta

import pytest
from prometheus_client import REGISTRY
from sqlalchemy.ext.asyncio import AsyncEngine

from authward.clock import FrozenClock
from authward.mail import Mail, Renderer
from authward.mail.backoff import Backoff
from authward.mail.sender import MailSender
from authward.mail.smtp import SmtpServer as SmtpAddress
from authward.mail.smtp import SmtpTransport
from authward.mail.sql import SqlOutbox
from authward.settings import SettingsError, load_settings
from tests.mail.smtp_server import SmtpServer


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("smtp_url", "http://mail.example.com", "AUTHWARD_SMTP_URL: must be an smtp://"),
        ("smtp_url", "smtp://mail.example.com:x", "AUTHWARD_SMTP_URL: the port"),
        ("smtp_url", "smtp://mail.example.com?starttls=never", "AUTHWARD_SMTP_URL: starttls"),
        ("mail_from", "a@example.com\r\nBcc: eve@example.com", "AUTHWARD_MAIL_FROM"),
        ("mail_from", "nobody", "AUTHWARD_MAIL_FROM"),
    ],
)
def test_a_bad_mail_setting_fails_the_start_naming_it(
    variable: str, value: str, message: str
) -> None:
    with pytest.raises(SettingsError, match=message):
        load_settings(**{variable: value})


def test_the_smtp_password_is_not_in_the_settings_repr() -> None:
    settings = load_settings(
        smtp_url="smtp://u:hunter2-password@mail.example.com", public_url="https://a.example"
    )
    assert "hunter2-password" not in repr(settings)
    assert load_settings(smtp_url="").smtp_url is None


def sample(name: str) -> float:
    return REGISTRY.get_sample_value(name) or 0.0


async def test_the_metrics_count_queued_sent_failed_and_the_oldest_waiting(
    sqlite_engine: AsyncEngine, clock: FrozenClock, smtp: SmtpServer
) -> None:
    queue = SqlOutbox(sqlite_engine, Renderer(), bytes(32), clock)
    transport = SmtpTransport(SmtpAddress.from_url(smtp.url), timeout=5)
    sender = MailSender(queue, transport, "a@example.com", clock, backoff=Backoff())
    counters = ("queued", "sent", "failed")
    before = {name: sample(f"authward_mail_{name}_total") for name in counters}
    for to in ("ada@example.com", "refused@example.com", "later@example.com"):
        await queue.enqueue(Mail(to, "password_changed", {"email": to}))
    clock.advance(timedelta(minutes=2))
    await sender.run_once()
    after = {name: sample(f"authward_mail_{name}_total") for name in counters}
    assert {name: after[name] - before[name] for name in counters} == {
        "queued": 3,
        "sent": 1,
        "failed": 1,
    }
    assert sample("authward_mail_waiting") == 1  # later@: deferred
    assert sample("authward_mail_oldest_waiting_seconds") == 120
