"""Notice mails: the account hears of every change to how it signs in.

One `NoticeMailer` (the runtime's, as `Events.notices`) rather than a mail in each
route: whichever way a factor or a password changes (the API, the pages, the CLI, an
embedder calling the services), the service asks it for the notice before the change,
and the store write that decides the change queues it in its own transaction (a
transactional outbox): the change and its notice commit together or not at all, and a
write that changes nothing queues nothing. A notice names what happened, never a code,
a secret or a link.

An email change's notice goes the same way, prepared before the change, so to the old
address (`EmailVerification.verify`, with the new one as a value); its request's notice
commits with its link (`EmailChange`). Neither ever follows an event: the
``email_changed`` event no longer knows the old address.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from authward.accounts.store import UserStore
from authward.events import AuthEvent, EventKind, Events, Then
from authward.flows.mailer import LinkMailer
from authward.ids import UserId
from authward.mail.message import Mail


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
    # To the old address, naming the new one (`prepare`'s values: new_email, stage).
    "email_changed": Notice("email_change_notice"),
}


# The changes whose store write takes the notice (`Events.notices`): every kind above.
WRITTEN: Final[frozenset[EventKind]] = frozenset(NOTICES)
# Of them, those written by the user store: an application's own adapter takes no
# `then`, so over one these are queued just after the change instead.
USER_STORE_KINDS: Final[frozenset[EventKind]] = frozenset(
    {"password_change", "password_reset", "email_changed"}
)
# Of those, the ones whose event cannot tell them (it comes after an email change, when
# the account's address is the new one): not written, their flow queues them itself.
NOT_HEARD: Final[frozenset[EventKind]] = frozenset({"email_changed"})


class NoticeMailer:
    """The notice mail of each change of `NOTICES`, one per change.

    A kind of `written` is prepared before its change (`prepare`: the account looked up,
    the mail built) and queued by the store write that decides the change, in that
    write's transaction: the change and its notice commit together or not at all. Any
    other kind of `NOTICES` follows its event (`notify`), queued just after the change,
    but those of `NOT_HEARD` (their flow's to queue then). A kind is one or the other,
    never both: one notice per change.
    """

    def __init__(
        self, users: UserStore, mailer: LinkMailer, *, written: Iterable[EventKind] = WRITTEN
    ) -> None:
        self._users = users
        self._mailer = mailer
        self._written = frozenset(written)

    def subscribe(self, events: Events) -> None:
        """Become `events.notices`, and hear the events of the kinds not written."""
        events.notices = self
        if heard := set(NOTICES) - self._written - NOT_HEARD:
            events.subscribe(self.notify, heard)

    async def prepare(
        self, kind: EventKind, user_id: UserId, *, values: Mapping[str, str] | None = None
    ) -> Then | None:
        """The notice of `kind` for the store write to queue in its transaction, to the
        account's address as it is now, with the change's own `values`; None for a kind
        not written with its change, or an account that is gone."""
        if kind not in self._written:
            return None
        mail = await self._mail(kind, user_id, values or {})
        if mail is None:
            return None
        outbox = self._mailer.outbox

        # The outbox renders and seals the mail in the transaction (`Outbox.enqueue`, its
        # one method): tens of microseconds, against an extra method on every outbox.
        async def then(within: Any) -> None:
            await outbox.enqueue(mail, within=within)

        return then

    async def notify(self, event: AuthEvent) -> None:
        """Queue the event's notice (a kind not written with its change); nothing for an
        account that is gone.

        A failure here is logged by `Events` and does not undo the change: the change is
        what protects the account, the mail only tells of it.
        """
        if event.kind in self._written | NOT_HEARD or event.user_id is None:
            return
        mail = await self._mail(event.kind, event.user_id, {})
        if mail is not None:
            await self._mailer.outbox.enqueue(mail)

    async def _mail(
        self, kind: EventKind, user_id: UserId, given: Mapping[str, str]
    ) -> Mail | None:
        notice = NOTICES.get(kind)
        if notice is None:
            return None
        user = await self._users.get(user_id)
        if user is None:
            return None
        values = {"email": user.email, **given}
        if notice.sentence is not None:
            values["event"] = notice.sentence
        return Mail(user.email, notice.template, values)
