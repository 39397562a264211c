"""Email verification: a link to the account's address proves the owner reads it.

The link is only ever used by a POST (`verify`): a mail scanner's GET of it verifies
nothing. The same POST completes an email change (its link went to the new address).
"""

from __future__ import annotations

from typing import Final

from authward.accounts.models import User
from authward.errors import EmailTaken, InvalidLink
from authward.flows.linked import MailedLinkFlow
from authward.ids import UserId

ACTION: Final = "verify_resend"
VERIFY_PATH: Final = "/verify"


class EmailVerification(MailedLinkFlow):
    PURPOSE = "verify"
    PATH = VERIFY_PATH
    TEMPLATE = "verify_email"

    async def send(self, user: User) -> None:
        """Mail `user` a verification link (voiding the older one): at registration."""
        await self._mail_link(user)

    async def remind(self, user: User) -> None:
        """Mail a fresh link unless the address is verified or the account's mail count
        is spent (silently: a sign-in refused for it, or a resend, says nothing more)."""
        if user.email_verified or user.disabled:
            return
        if await self._throttle.allows_mail(ACTION, user.id):
            await self.send(user)

    async def admit(self, address: str) -> None:
        """Count an unauthenticated resend from `address`; TooManyAttempts at the ceiling."""
        await self._throttle.attempt(ACTION, address)

    async def resend_to(self, email: str) -> None:
        """`remind` the account of `email`, if there is one: after the answer went out."""
        if (user := await self._user_by_email(email)) is not None:
            await self.remind(user)

    async def resend_for(self, user_id: UserId) -> None:
        """`remind` a signed-in user."""
        if (user := await self._accounts.users.get(user_id)) is not None:
            await self.remind(user)

    async def verify(
        self,
        token: str,
        *,
        keep_session_id: str | None = None,
        keep_family: str | None = None,
    ) -> UserId:
        """Use a verification or email-change link; InvalidLink for any that cannot be.

        A verification marks the address verified (the first time, ending the account's
        other sessions: `AccountLifecycle.verify_email`). An email change moves the
        account to the new address, and tells the old one.
        """
        redeemed = await self._accounts.links.redeem(
            token, ("verify", "email_change"), self._clock.now()
        )
        user = await self._accounts.users.get(redeemed.user_id)
        if user is None or user.disabled or user.email != redeemed.email:
            raise InvalidLink
        if redeemed.purpose == "verify":
            await self._lifecycle.verify_email(
                user.id, keep_session_id=keep_session_id, keep_family=keep_family
            )
            return user.id
        new_email = redeemed.new_email
        if new_email is None:  # an email-change link always names its address
            raise InvalidLink
        # The old address's notice, prepared while the account still has that address,
        # commits with the change (`Events.notices`): a process dying just after the
        # change cannot leave untold the address a victim of an account takeover reads.
        changed = {"new_email": new_email, "stage": "changed"}
        notices = self._lifecycle.events.notices
        then = await notices.prepare("email_changed", user.id, values=changed)
        try:
            moved = await self._lifecycle.change_email(
                user.id, new_email, expected=user.email, then=then
            )
        except EmailTaken:  # taken since the link went out
            raise InvalidLink from None
        if not moved:
            raise InvalidLink
        if then is None:  # an application's own user store (or no runtime): just after it
            values = {"email": user.email, **changed}
            await self._mailer.send(user.email, "email_change_notice", values)
        return user.id
