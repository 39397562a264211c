"""Email change: the current password, a link to the new address, notices to the old.

Nothing changes until the link is used (`EmailVerification.verify`). A new address
that is already taken gets the same answer and no link: the old address's notice goes
out either way, so the answer tells nothing about the new one.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Final

from authward.accounts.emails import normalize_email
from authward.accounts.service import AccountService
from authward.clock import Clock
from authward.events import Events
from authward.flows.mailer import LinkMailer
from authward.flows.verification import VERIFY_PATH
from authward.ids import UserId

# An hour: the link moves the account's sign-in name, so it lives no longer than a
# reset link at most may (AUTHWARD_RESET_TTL's ceiling).
EMAIL_CHANGE_TTL: Final = timedelta(hours=1)


class EmailChange:
    def __init__(
        self, accounts: AccountService, mailer: LinkMailer, clock: Clock, events: Events
    ) -> None:
        self._accounts = accounts
        self._mailer = mailer
        self._clock = clock
        self._events = events

    async def admit(
        self, user_id: UserId, new_email: str, current_password: str | None, *, address: str
    ) -> str:
        """Check the request; return the normalised new address.

        InvalidInput for a malformed address; WrongPassword (a failed login, counted as
        one) or TooManyAttempts for the password; NotFound for a disabled account.
        Without `current_password` the caller has made sure the login is recent (a
        step-up): only the address is checked.
        """
        normalized = normalize_email(new_email)
        if current_password is not None:
            await self._accounts.confirm_password(
                user_id, current_password, address=address, action="email"
            )
        return normalized

    async def send(self, user_id: UserId, new_email: str) -> None:
        """Tell the old address, and mail the link to the new one unless it is taken."""
        user = await self._accounts.users.get(user_id)
        if user is None or user.disabled or new_email == user.email:
            return
        notice = {"email": user.email, "new_email": new_email, "stage": "requested"}
        await self._events.emit("email_change_requested", user_id=user_id)
        if await self._accounts.users.get_by_email(new_email) is not None:
            await self._mailer.send(user.email, "email_change_notice", notice)
            return

        async def deliver(token: str, within: Any) -> None:
            link = self._mailer.link(VERIFY_PATH, token)
            values = {"link": link, "email": new_email}
            await self._mailer.send(new_email, "email_change_confirm", values, within=within)
            await self._mailer.send(user.email, "email_change_notice", notice, within=within)

        await self._accounts.links.issue(
            user,
            "email_change",
            expires_at=self._clock.now() + EMAIL_CHANGE_TTL,
            deliver=deliver,
            new_email=new_email,
        )
