"""Fixtures of the mail tests: a real SMTP server, outboxes, senders."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.mail.smtp_server import Certificate, SmtpServer, make_certificate


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    return make_certificate(tmp_path_factory.mktemp("smtp-tls"))
