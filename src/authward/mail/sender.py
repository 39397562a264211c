"""The background sender: claims due mails, hands them to SMTP, records what happened.

Each round claims a batch (the outbox gives each mail to one sender across nodes, for a
lease), sends each, and marks it sent at once: a mail goes out twice only if its sender
dies between the server's 250 and that mark, or takes longer than the lease. A failed
attempt is retried with backoff (`authward.mail.backoff`); a permanent refusal fails the
mail at once. When the server cannot be reached at all, the rest of the batch waits
with the mail that found out: no point in dialling a dead server for each.

With no SMTP server configured (development), the sender sends nothing: it logs each
newly queued mail's text, links included, once, to the ``authward.mail`` logger, and the
mails stay queued.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Final

from authward.background import stop
from authward.clock import Clock
from authward.errors import StoreUnavailable
from authward.mail.backoff import Backoff
from authward.mail.message import Claimed
from authward.mail.outbox import MailQueue
from authward.mail.smtp import DeliveryError, Transport
from authward.metrics import MAIL_FAILED, MAIL_SENT, observe_mail_waiting

log = logging.getLogger("authward.mail")

POLL_INTERVAL: Final = 2.0  # seconds between rounds when there was nothing to do
BATCH: Final = 10
# Longer than a batch can take: BATCH mails at most one SMTP timeout each, and the
# rest of a batch waits once the server is found down.
LEASE: Final = timedelta(minutes=10)


class MailSender:
    """Deliver the outbox's mails through `transport`; with None, log them (development)."""

    def __init__(
        self,
        queue: MailQueue,
        transport: Transport | None,
        mail_from: str,
        clock: Clock,
        *,
        backoff: Backoff | None = None,
        poll_interval: float = POLL_INTERVAL,
        batch: int = BATCH,
        lease: timedelta = LEASE,
    ) -> None:
        self.queue = queue
        self.transport = transport
        self._from = mail_from
        self._domain = mail_from.rpartition("@")[2]
        self._clock = clock
        self._backoff = backoff or Backoff()
        self._poll_interval = poll_interval
        self._batch = batch
        self._lease = lease
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Run rounds in the background until `close`; say loudly if nothing will be sent."""
        if self.transport is None:
            log.warning(
                "AUTHWARD_SMTP_URL is not set: no mail will be sent. Mails stay in the outbox "
                "and each one's text, links included, is written to this log (development only)",
                extra={"event": "mail_not_configured"},
            )
        if self._task is None:
            self._task = asyncio.create_task(self._run_forever(), name="authward-mail-sender")

    async def close(self) -> None:
        if self._task is not None:
            await stop([self._task])
            self._task = None

    async def run_once(self) -> int:
        """One round: send (or, in development, show) a batch; return how many were handled."""
        if self.transport is None:
            shown = await self.queue.unshown(self._clock.now(), self._batch)
            for mail in shown:
                _show(mail)
            handled = len(shown)
        else:
            handled = await self._send_batch(self.transport)
        observe_mail_waiting(*await self.queue.waiting(), self._clock.now())
        return handled

    async def _send_batch(self, transport: Transport) -> int:
        claimed = await self.queue.claim(self._clock.now(), self._lease, self._batch)
        for index, mail in enumerate(claimed):
            try:
                await transport.send(self.compose(mail))
            except DeliveryError as error:
                await self._failed_attempt(mail, error)
                if error.server_down:
                    for rest in claimed[index + 1 :]:
                        await self._failed_attempt(rest, error, attempted=False)
                    break
                continue
            await self.queue.delivered(mail.id, self._clock.now())
            MAIL_SENT.inc()
        return len(claimed)

    async def _failed_attempt(
        self, mail: Claimed, error: DeliveryError, *, attempted: bool = True
    ) -> None:
        now = self._clock.now()
        if error.permanent or (attempted and self._backoff.gives_up(mail.created_at, now)):
            await self.queue.failed(mail.id, error.reason)
            MAIL_FAILED.inc()
            log.warning(
                "mail %s (%s) failed for good after %d attempts: %s",
                mail.id,
                mail.template,
                mail.attempts,
                error.reason,
                extra={"event": "mail_failed"},
            )
            return
        retry_at = now + self._backoff.delay(mail.attempts)
        await self.queue.deferred(mail.id, retry_at, error.reason)
        log.info(
            "mail %s (%s) not sent, attempt %d, next at %s: %s",
            mail.id,
            mail.template,
            mail.attempts,
            retry_at.isoformat(),
            error.reason,
            extra={"event": "mail_deferred"},
        )

    def compose(self, mail: Claimed) -> EmailMessage:
        """The message as it goes out: text, and HTML as its alternative."""
        message = EmailMessage()
        message["From"] = self._from
        message["To"] = mail.to
        message["Subject"] = mail.body.subject
        message["Date"] = format_datetime(self._clock.now())
        # One id per mail, the same on every attempt: a receiver can tell a resend.
        message["Message-ID"] = f"<{mail.id}@{self._domain}>"
        message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies
        message.set_content(mail.body.text)
        message.add_alternative(mail.body.html, subtype="html")
        return message

    async def _run_forever(self) -> None:
        while True:
            try:
                handled = await self.run_once()
            except StoreUnavailable:
                handled = 0  # the database is away: the mails wait in it
            except Exception:  # a sender that dies is mail that stops: log it, go on
                log.exception("mail round failed", extra={"event": "mail_round_failed"})
                handled = 0
            if handled < self._batch:
                await asyncio.sleep(self._poll_interval)


def _show(mail: Claimed) -> None:
    log.info(
        "mail not sent (no AUTHWARD_SMTP_URL) to %s, %s: %s\n%s",
        mail.to,
        mail.template,
        mail.body.subject,
        mail.body.text,
        extra={"event": "mail_shown"},
    )
