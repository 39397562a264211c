"""The rules that span an account, its sessions and its token families.

Signing out everywhere, disabling or deleting an account and changing a password each
end what the user holds, on every node; the concepts stand apart (none imports another),
so the rules that tie them live here, once. The API routes, the pages and the CLI all call these
methods rather than repeat the steps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from authward.accounts.service import AccountService
from authward.accounts.store import NoticedEmails
from authward.errors import NotFound
from authward.events import Events, Then
from authward.factors.service import FactorService
from authward.ids import UserId
from authward.sessions.service import SessionService
from authward.tokens.service import TokenService


@dataclass(frozen=True, slots=True)
class AccountLifecycle:
    """End what a user holds when the account's standing changes."""

    accounts: AccountService
    sessions: SessionService
    tokens: TokenService
    events: Events
    factors: FactorService

    async def sign_out_everywhere(
        self,
        user_id: UserId,
        *,
        keep_session_id: str | None = None,
        keep_family: str | None = None,
    ) -> None:
        """End the user's sessions and token families, but the one session or family kept.

        Sessions go first: they are the store lookups; token families then reach every
        node through the revocation bus. Keeping a session keeps no family: a caller
        holds one or the other.
        """
        await self.sessions.end_all(user_id, keep_session_id=keep_session_id)
        await self.tokens.revoke_user(
            user_id, keep_family=keep_family if keep_session_id is None else None
        )
        await self.events.emit("revoke", user_id=user_id)

    async def end_by_handle(self, user_id: UserId, handle: str) -> None:
        """End one of the user's sessions or token families by its public handle.

        Raises NotFound when the user has neither by that handle (someone else's included).
        """
        try:
            await self.sessions.end_by_handle(user_id, handle)
        except NotFound:
            await self.tokens.revoke_by_handle(user_id, handle)

    async def disable(self, user_id: UserId) -> None:
        """Disable the account and end everything it holds, at once, on every node."""
        await self.accounts.set_disabled(user_id, True)
        await self.sign_out_everywhere(user_id)
        await self.events.emit("user_disabled", user_id=user_id)

    async def enable(self, user_id: UserId) -> None:
        """Let a disabled account sign in again; it gets back nothing that was ended."""
        await self.accounts.set_disabled(user_id, False)
        await self.events.emit("user_enabled", user_id=user_id)

    async def reset_factors(self, user_id: UserId) -> None:
        """Turn every second factor of the account off (an operator's ``users mfa-reset``
        for an owner who lost them), and end everything it holds, on every node.

        Whoever holds a session or token may be the one the owner lost the device to:
        each ends, so the owner starts again from the password. The recovery codes go
        with the factor; a login halfway through its second step cannot finish. Raises
        NotFound when there is no such account.
        """
        if await self.accounts.users.get(user_id) is None:
            raise NotFound
        # The notice commits with the factors' removal (`Events.notices`), or neither.
        then = await self.events.notices.prepare("mfa_reset", user_id)
        await self.factors.remove_all(user_id, then=then)
        await self.sign_out_everywhere(user_id)
        await self.events.emit("mfa_reset", user_id=user_id)

    async def delete(self, user_id: UserId) -> None:
        """Delete the account, after ending everything it holds, on every node.

        Disabled first, so that no login can start anything between the steps; then its
        sessions end and its token families are revoked (the revocations reach every
        node through the bus) and dropped; its second factors, recovery codes and
        half-finished second steps go, and its mailed links are voided; then the row
        goes. The factor and link tables have no foreign key to ``users`` (each concept
        keeps its own tables, and Redis or an embedder's store could not cascade anyway),
        so this is the one place that removes them. Raises NotFound when there is no
        such account; a failure midway leaves it disabled and signed out, never half
        deleted and still usable, and running the delete again finishes it.
        """
        await self.accounts.set_disabled(user_id, True)
        await self.sessions.end_all(user_id)
        await self.tokens.forget_user(user_id)
        await self.factors.remove_all(user_id)
        await self.accounts.links.store.void(user_id)
        await self.accounts.remove(user_id)
        await self.events.emit("user_deleted", user_id=user_id)

    async def change_password(
        self,
        user_id: UserId,
        current: str,
        new: str,
        *,
        address: str = "",
        keep_session_id: str | None = None,
        keep_family: str | None = None,
    ) -> None:
        """Replace the password, then end every other session and family of the user.

        Whoever knew the old password may hold a session: only the caller's own (the
        session or the family it came with) survives. Raises as
        `AccountService.change_password` does, and then nothing has ended.
        """
        await self.accounts.change_password(user_id, current, new, address=address)
        await self.sign_out_everywhere(
            user_id, keep_session_id=keep_session_id, keep_family=keep_family
        )

    async def reset_password(self, user_id: UserId, new: str) -> None:
        """Set the password through a mailed link, and end everything the account holds.

        Whoever holds a session may be the one who took the account (or registered it
        with someone else's address): every session and family ends, on every node. The
        link reached the owner's inbox, so the address counts as verified. Second factors
        are left as they are: the next sign-in still asks for them.
        """
        await self.accounts.set_password(user_id, new, notice="password_reset")
        await self.accounts.users.set_email_verified(user_id)
        await self.sign_out_everywhere(user_id)
        await self.events.emit("password_reset", user_id=user_id)

    async def verify_email(
        self,
        user_id: UserId,
        *,
        keep_session_id: str | None = None,
        keep_family: str | None = None,
    ) -> None:
        """Mark the account's address verified; the first time, end its other sessions.

        An unverified account may have been registered by someone else with the owner's
        address: once the owner proves it, whatever that someone signed in with ends.
        Only the caller's own session or family (the owner's, who holds the link) stays.
        """
        user = await self.accounts.users.get(user_id)
        if user is None or user.email_verified:
            return
        await self.accounts.users.set_email_verified(user_id)
        await self.sign_out_everywhere(
            user_id, keep_session_id=keep_session_id, keep_family=keep_family
        )
        await self.events.emit("email_verified", user_id=user_id)

    async def change_email(
        self, user_id: UserId, new: str, *, expected: str, then: Then | None = None
    ) -> bool:
        """Move the account to the verified address `new` if its address is still
        `expected`; void its mailed links (they were bound to the old address). Return
        whether it moved; raise EmailTaken when `new` is another account's.

        `then`: the notice to the old address (`Events.notices`), written in the change's
        own transaction when it moved; given only over authward's own user stores.
        """
        if then is None:
            moved = await self.accounts.users.change_email(user_id, new, expected=expected)
        else:
            noticed = cast(NoticedEmails, self.accounts.users)
            moved = await noticed.change_email(user_id, new, expected=expected, then=then)
        if not moved:
            return False
        await self.accounts.links.store.void(user_id)
        await self.events.emit("email_changed", user_id=user_id)
        return True
