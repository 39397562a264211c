"""The account flows that go through a mailed link (reset, verification, email change),
and step-up (`Reauthentication`), which the API and the pages share.

They sit in the assembly layer, beside `authward.lifecycle`: each ties the account rules
(`authward.accounts`: the links, the users) to the outbox (`authward.mail`) and to the
lifecycle rules that end what a user holds. The API routes and the pages call these
services, never each other.
"""

from __future__ import annotations

from dataclasses import dataclass

from authward.clock import Clock
from authward.flows.email_change import EmailChange
from authward.flows.mailer import LinkMailer
from authward.flows.reauth import Proof, Reauthentication
from authward.flows.registration import Registration
from authward.flows.reset import PasswordReset
from authward.flows.verification import EmailVerification
from authward.lifecycle import AccountLifecycle
from authward.mail.outbox import Outbox
from authward.settings import Settings
from authward.throttle.throttles import MailThrottle

__all__ = [
    "AccountFlows",
    "EmailChange",
    "EmailVerification",
    "LinkMailer",
    "PasswordReset",
    "Proof",
    "Reauthentication",
    "Registration",
]


@dataclass(frozen=True, slots=True)
class AccountFlows:
    """The flows of one runtime (`Runtime.flows`)."""

    registration: Registration
    verification: EmailVerification
    reset: PasswordReset
    email_change: EmailChange
    reauth: Reauthentication

    @classmethod
    def build(
        cls,
        settings: Settings,
        lifecycle: AccountLifecycle,
        throttle: MailThrottle,
        outbox: Outbox,
        clock: Clock,
    ) -> AccountFlows:
        accounts = lifecycle.accounts
        mailer = LinkMailer(outbox, settings.public_url)
        verification = EmailVerification(
            accounts, lifecycle, throttle, mailer, clock, ttl=settings.verify_ttl
        )
        return cls(
            registration=Registration(accounts, verification, mailer, throttle, settings),
            verification=verification,
            reset=PasswordReset(
                accounts, lifecycle, throttle, mailer, clock, ttl=settings.reset_ttl
            ),
            email_change=EmailChange(accounts, mailer, clock, lifecycle.events),
            reauth=Reauthentication(
                accounts, lifecycle.factors, lifecycle.sessions, lifecycle.tokens
            ),
        )
