"""The mail parts as the runtime assembles them: outbox, background sender, sweep, nodes."""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import sys
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from authward.clock import FrozenClock, SystemClock
from authward.mail import Mail, MailTemplateError
from authward.runtime import Runtime, build_runtime
from tests.conftest import CHEAP_ARGON2, TEST_SECRET, make_settings
from tests.mail.smtp_server import SmtpServer


def notice(n: int) -> Mail:
    to = f"user{n}@example.com"
    return Mail(to, "security_notice", {"email": to, "event": f"Event number {n}."})


@asynccontextmanager
async def opened(
    tmp_path: Path, clock: FrozenClock, *, background: bool = False, **settings: object
) -> AsyncIterator[Runtime]:
    runtime = build_runtime(make_settings(tmp_path, **settings), clock=clock)
    await runtime.open(background=background)
    try:
        yield runtime
    finally:
        await runtime.close()


async def until(condition: Callable[[], object]) -> None:
    """Wait for `condition()` to hold (set by another thread's I/O, or a background task);
    no deadline of its own: the test's timeout bounds the wait."""
    for _ in itertools.count():
        if condition():
            return
        await asyncio.sleep(0.02)


async def test_the_running_sender_delivers_what_the_outbox_receives(
    tmp_path: Path, clock: FrozenClock, smtp: SmtpServer
) -> None:
    async with opened(tmp_path, clock, background=True, smtp_url=smtp.url) as runtime:
        async with runtime.engine.begin() as conn:
            await runtime.outbox.enqueue(notice(1), within=conn)
        await until(lambda: smtp.messages())
    assert [m["To"] for m in smtp.messages()] == ["user1@example.com"]


async def test_without_smtp_the_runtime_says_so_and_logs_each_mail(
    tmp_path: Path, clock: FrozenClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="authward.mail")
    async with opened(tmp_path, clock, background=True) as runtime:
        await runtime.outbox.enqueue(notice(1))
        await until(lambda: "Event number 1." in caplog.text)
        assert [e.state for e in await runtime.mail_queue.entries()] == ["queued"]
    assert "AUTHWARD_SMTP_URL is not set" in caplog.text


async def test_the_sweep_removes_sent_mails_after_the_retention(
    tmp_path: Path, clock: FrozenClock, smtp: SmtpServer
) -> None:
    async with opened(tmp_path, clock, smtp_url=smtp.url, mail_retention_days=30) as runtime:
        await runtime.outbox.enqueue(notice(1))
        await runtime.outbox.enqueue(notice(2))
        await runtime.mail.run_once()
        clock.advance(timedelta(days=30))
        assert (await runtime.sweep())["mails"] == 0
        clock.advance(timedelta(seconds=1))
        assert (await runtime.sweep())["mails"] == 2
        assert await runtime.mail_queue.entries() == []


async def test_a_broken_operator_template_stops_the_start(
    tmp_path: Path, clock: FrozenClock
) -> None:
    folder = tmp_path / "templates"
    folder.mkdir()
    (folder / "password_reset.txt").write_text("Open {{ link }")
    with pytest.raises(MailTemplateError, match="password_reset.txt"):
        build_runtime(make_settings(tmp_path, mail_templates=str(folder)), clock=clock)
    (folder / "password_reset.txt").write_text("Open {{ url }}")  # a value nobody gives
    with pytest.raises(MailTemplateError, match="url"):
        build_runtime(make_settings(tmp_path, mail_templates=str(folder)), clock=clock)


@pytest.mark.postgres
async def test_two_nodes_on_postgresql_send_each_mail_once_after_an_outage(
    tmp_path: Path,
    clock: FrozenClock,
    smtp: SmtpServer,
    postgres_url: str,
    postgres_engine: AsyncEngine,
) -> None:
    on_postgres = {"database_url": postgres_url, "smtp_url": smtp.url}
    async with (
        opened(tmp_path, clock, **on_postgres) as first,
        opened(tmp_path, clock, **on_postgres) as second,
    ):
        for n in range(40):
            node = first if n % 2 else second
            async with node.engine.begin() as conn:
                await node.outbox.enqueue(notice(n), within=conn)
        smtp.stop()
        await asyncio.gather(first.mail.run_once(), second.mail.run_once())
        clock.advance(timedelta(hours=1))
        smtp.start()
        while (await first.mail_queue.waiting())[0]:
            await asyncio.gather(first.mail.run_once(), second.mail.run_once())
            clock.advance(timedelta(hours=1))
    received = Counter(m["To"] for m in smtp.messages())
    assert received == {f"user{n}@example.com": 1 for n in range(40)}


@pytest.mark.postgres
async def test_two_processes_sending_at_once_send_each_mail_once(
    tmp_path: Path, smtp: SmtpServer, postgres_url: str, postgres_engine: AsyncEngine
) -> None:
    settings = {"database_url": postgres_url, "smtp_url": smtp.url}
    async with opened(tmp_path, FrozenClock(SystemClock().now()), **settings) as runtime:
        for n in range(60):
            await runtime.outbox.enqueue(notice(n))
        env = {
            **os.environ,
            "AUTHWARD_DATABASE_URL": postgres_url,
            "AUTHWARD_SECRET_KEY": TEST_SECRET,
            "AUTHWARD_SMTP_URL": smtp.url,
            "AUTHWARD_PUBLIC_URL": "https://authward.test",
            **{f"AUTHWARD_{k.upper()}": str(v) for k, v in CHEAP_ARGON2.items()},
        }
        root = Path(__file__).parents[2]
        logs = [(tmp_path / f"node{i}.log").open("wb") for i in range(2)]
        nodes = [
            await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "tests.mail.sender_node",
                cwd=root,
                env=env,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=log,
            )
            for log in logs
        ]
        try:
            sent: list[str] = []

            async def all_sent() -> bool:
                sent[:] = [e.id for e in await runtime.mail_queue.entries("sent")]
                return len(sent) == 60

            while not await all_sent():
                assert all(node.returncode is None for node in nodes), "a node died"
                await asyncio.sleep(0.05)
        finally:
            for node, log in zip(nodes, logs, strict=True):
                node.terminate()
                await node.wait()
                log.close()
    # Every row is sent: nothing is left to claim, so no second copy can still come.
    received = Counter(m["To"] for m in smtp.messages())
    assert received == {f"user{n}@example.com": 1 for n in range(60)}
