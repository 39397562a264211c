"""Notice mails: the account hears of every change to how it signs in.

One subscriber to the security events (`NoticeMailer`, subscribed by the runtime) rather
than a mail in each route: whichever way a factor or a password changes (the API, the
pages, the CLI, an embedder calling the services), the event is emitted, and the notice
follows it. A notice names what happened, never a code, a secret or a link.

The email change's own notices stay in its flow (`EmailChange`, `EmailVerification`):
they go to the old address, which the ``email_changed`` event no longer knows.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from authward.accounts.store import UserStore
from authward.events import AuthEvent, EventKind, Events
from authward.flows.mailer import LinkMailer

# The sentence each event's notice says (the ``security_notice`` template's ``event``).
NOTICES: Final[Mapping[EventKind, str]] = {
    "mfa_reset": (
        "An administrator turned off every second factor of your account (authenticator "
        "app and recovery codes) and signed it out everywhere."
    ),
}


class NoticeMailer:
    """Queue a notice mail to the account for each event of `NOTICES`."""

    def __init__(self, users: UserStore, mailer: LinkMailer) -> None:
        self._users = users
        self._mailer = mailer

    def subscribe(self, events: Events) -> None:
        events.subscribe(self.notify, NOTICES)

    async def notify(self, event: AuthEvent) -> None:
        """Queue the event's notice; nothing for an account that is gone.

        A failure here is logged by `Events` and does not undo the change: the change is
        what protects the account, the mail only tells of it.
        """
        sentence = NOTICES.get(event.kind)
        if sentence is None or event.user_id is None:
            return
        user = await self._users.get(event.user_id)
        if user is None:
            return
        values = {"email": user.email, "event": sentence}
        await self._mailer.send(user.email, "security_notice", values)
