"""Password reset: a link to the account's address, then a new password.

No answer tells whether an account exists: the request path only counts the client
address (`admit`); looking the account up, the silent per-account count, the link and
its mail happen after the answer (`send`, a background task), so neither the answer nor
its timing depends on the account.
"""

from __future__ import annotations

import logging
from typing import Final

from authward.accounts.models import User
from authward.errors import InvalidInput, InvalidLink
from authward.flows.linked import MailedLinkFlow
from authward.ids import UserId

log = logging.getLogger("authward")

ACTION: Final = "forgot"
RESET_PATH: Final = "/reset"


class PasswordReset(MailedLinkFlow):
    PURPOSE = "reset"
    PATH = RESET_PATH
    TEMPLATE = "password_reset"

    async def admit(self, address: str) -> None:
        """Count a reset request from `address` (whatever the email); TooManyAttempts at
        the ceiling. The request path's only work."""
        await self._throttle.attempt(ACTION, address)

    async def send(self, email: str) -> None:
        """Mail a reset link if `email` is an enabled account's and its mail count allows.

        Silent either way: meant to run after the answer went out.
        """
        user = await self._user_by_email(email)
        if user is None or user.disabled:
            return
        if not await self._throttle.allows_mail(ACTION, user.id):
            return
        await self._mail_link(user)

    async def send_for_operator(self, user: User) -> None:
        """Mail `user` a reset link because an operator asked (``authward users
        reset-password``): the operator chooses no password, the account's owner does.

        Not counted against the account's mail ceiling (that ceiling stops strangers
        flooding an inbox, and an operator is not one); a disabled account is refused, since
        its link could not be used. Audited as ``password_reset_sent``.
        """
        if user.disabled:
            raise InvalidInput("The account is disabled: enable it first.")
        await self._mail_link(user)
        await self._lifecycle.events.emit("password_reset_sent", user_id=user.id)

    async def complete(self, token: str, new_password: str) -> UserId:
        """Set the password of the link's account; end its sessions and families.

        InvalidInput for a password registration would refuse (checked before the link is
        spent); InvalidLink for any token that cannot be used, or whose account is gone,
        disabled, or no longer at the address the link went to.
        """
        # The policy's parts that need no account (length, the common and breached lists)
        # run before the link is spent; the email rule runs again once the account is known.
        await self._accounts.policy.check(new_password)
        redeemed = await self._accounts.links.redeem(token, ("reset",), self._clock.now())
        user = await self._accounts.users.get(redeemed.user_id)
        if user is None or user.disabled or user.email != redeemed.email:
            raise InvalidLink
        # Its notice mail commits with the new password (`authward.flows.notices`).
        await self._lifecycle.reset_password(user.id, new_password)
        return user.id
