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
from dataclasses import dataclass
from typing import Final

from authward.accounts.store import UserStore
from authward.events import AuthEvent, EventKind, Events
from authward.flows.mailer import LinkMailer


@dataclass(frozen=True, slots=True)
class Notice:
    """A notice's template, and the sentence it says (``security_notice``'s ``event``)."""

    template: str = "security_notice"
    sentence: str | None = None


NOTICES: Final[Mapping[EventKind, Notice]] = {
    "totp_enabled": Notice(sentence="Sign-in codes from an authenticator app were turned on."),
    "totp_disabled": Notice(
        sentence=(
            "Sign-in codes from an authenticator app were turned off, and the recovery "
            "codes with them."
        )
    ),
    "recovery_codes_generated": Notice(
        sentence="A new set of recovery codes was made; the old set no longer works."
    ),
    "recovery_code_used": Notice(sentence="A recovery code was used to sign in."),
    "passkey_added": Notice(sentence="A passkey was added: it can now sign in to your account."),
    "passkey_removed": Notice(sentence="A passkey was removed: it no longer signs in."),
    "mfa_reset": Notice(
        sentence=(
            "An administrator turned off every second factor of your account (authenticator "
            "app and recovery codes) and signed it out everywhere."
        )
    ),
    "password_change": Notice(
        sentence="The password was changed, and every other session was signed out."
    ),
    # A reset ends every session: the template that says so.
    "password_reset": Notice("password_changed"),
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
        notice = NOTICES.get(event.kind)
        if notice is None or event.user_id is None:
            return
        user = await self._users.get(event.user_id)
        if user is None:
            return
        values = {"email": user.email}
        if notice.sentence is not None:
            values["event"] = notice.sentence
        await self._mailer.send(user.email, notice.template, values)
