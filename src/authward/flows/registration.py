"""Registration under AUTHWARD_EMAIL_VERIFICATION: off, optional or required.

``off`` and ``optional`` answer at once (201, or 409 for a taken email); ``optional``
mails a verification link. ``required`` answers alike for a new and a taken email: the
request path only validates and counts (`admit`), and the account, with its argon2 hash
(computed for a taken email too), is made after the answer (`complete`): a new account
gets its verification link, the owner of a taken email a notice.
"""

from __future__ import annotations

from authward.accounts.models import User
from authward.accounts.service import AccountService
from authward.errors import EmailTaken
from authward.flows.mailer import LinkMailer
from authward.flows.verification import EmailVerification
from authward.settings import Settings
from authward.throttle.throttles import MailThrottle

FORGOT_PATH = "/forgot"


class Registration:
    def __init__(
        self,
        accounts: AccountService,
        verification: EmailVerification,
        mailer: LinkMailer,
        throttle: MailThrottle,
        settings: Settings,
    ) -> None:
        self._accounts = accounts
        self._throttle = throttle
        self._verification = verification
        self._mailer = mailer
        self.mode = settings.email_verification

    @property
    def answers_alike(self) -> bool:
        """Whether registration hides which emails are taken (mode ``required``)."""
        return self.mode == "required"

    async def register(self, email: str, password: str, *, address: str | None) -> User:
        """Modes ``off`` and ``optional``: create the account at once (EmailTaken, …)."""
        user = await self._accounts.register(email, password, address=address)
        if self.mode == "optional":
            await self._verification.send(user)
        return user

    async def admit(self, email: str, password: str, *, address: str | None) -> str:
        """Mode ``required``, the request path: validate and count; the normalised email."""
        return await self._accounts.admit(email, password, address=address)

    async def complete(self, normalized: str, password: str) -> None:
        """Mode ``required``, after the answer: the account and its link, or a notice."""
        try:
            user = await self._accounts.create(normalized, password)
        except EmailTaken:
            owner = await self._accounts.users.get_by_email(normalized)
            # A look-alike's owner is not told (it is not their address); an owner already
            # told often enough is not told again (someone may be trying to flood them).
            if owner is not None and await self._throttle.allows_mail("email_taken", owner.id):
                values = {"email": owner.email, "link": self._mailer.link(FORGOT_PATH)}
                await self._mailer.send(owner.email, "email_taken", values)
            return
        await self._verification.send(user)
