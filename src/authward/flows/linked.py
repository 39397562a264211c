"""What the flows that mail a one-time link to an account's own address share.

A password reset and an email verification each mail a link of one purpose to the
address the account has now: the link is issued (voiding that purpose's older ones) and
its mail queued in one transaction, so no link exists without its mail, nor a mail
without its link. The email change differs: its link goes to the new address.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, ClassVar

from authward.accounts.emails import lookup_key
from authward.accounts.links import Purpose
from authward.accounts.models import User
from authward.accounts.service import AccountService
from authward.clock import Clock
from authward.flows.mailer import LinkMailer
from authward.lifecycle import AccountLifecycle
from authward.throttle.throttles import MailThrottle


class MailedLinkFlow:
    """A flow whose link (`PURPOSE`) opens the page `PATH`, mailed with `TEMPLATE`."""

    PURPOSE: ClassVar[Purpose]
    PATH: ClassVar[str]
    TEMPLATE: ClassVar[str]

    def __init__(
        self,
        accounts: AccountService,
        lifecycle: AccountLifecycle,
        throttle: MailThrottle,
        mailer: LinkMailer,
        clock: Clock,
        *,
        ttl: int,
    ) -> None:
        self._accounts = accounts
        self._lifecycle = lifecycle
        self._throttle = throttle
        self._mailer = mailer
        self._clock = clock
        self._ttl = timedelta(seconds=ttl)

    async def _user_by_email(self, email: str) -> User | None:
        """The account at `email`, or None (for an address no account could have too)."""
        key = lookup_key(email)
        return None if key is None else await self._accounts.users.get_by_email(key)

    async def _mail_link(self, user: User) -> None:
        """Issue the link (voiding older ones) and queue its mail in the same transaction."""

        async def deliver(token: str, within: Any) -> None:
            values = {"link": self._mailer.link(self.PATH, token), "email": user.email}
            await self._mailer.send(user.email, self.TEMPLATE, values, within=within)

        expires_at = self._clock.now() + self._ttl
        await self._accounts.links.issue(user, self.PURPOSE, expires_at=expires_at, deliver=deliver)
