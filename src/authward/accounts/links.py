"""Links mailed to an account's owner: password reset, email verification, email change.

One mechanism for all three. A link carries a 256-bit token from the CSPRNG; the store
keeps only its SHA-256 (the token has full entropy, so a fast digest is enough, as for
session ids), with what it is for (`Purpose`), whose account it is, the address it was
sent for, and when it expires. A link is used once: `LinkStore.consume` takes it in one
atomic step, so of two nodes presenting it at once exactly one gets it. Issuing one voids
the account's older links of that purpose, and a password or email change voids them
all (`LinkStore.void`).

The store writes the mail that carries a link in the same transaction as the link
(`Deliver`): a link is never stored without its mail, nor mailed without being stored.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol, get_args

from authward import crypto
from authward.errors import InvalidLink
from authward.ids import UserId

if TYPE_CHECKING:
    from authward.accounts.models import User

Purpose = Literal["reset", "verify", "email_change"]
PURPOSES: Final[tuple[Purpose, ...]] = get_args(Purpose)

# What the store hands its `Deliver`: the SQL connection of the open transaction, or None
# for a store with no transaction (memory). Typed loosely: the concepts know no SQL.
Deliver = Callable[[Any], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Link:
    """A stored link: the digest of its token, never the token.

    `email` is the account's address when it was issued; `new_email` the address an
    email change goes to (None for the other purposes).
    """

    digest: bytes
    purpose: Purpose
    user_id: UserId
    email: str
    expires_at: datetime
    new_email: str | None = None

    def __repr__(self) -> str:
        return f"Link(purpose={self.purpose!r}, user_id={self.user_id!r})"


class LinkStore(Protocol):
    """Outstanding links, keyed by the digest of their token."""

    async def replace(self, link: Link, deliver: Deliver) -> None:
        """Void the user's links of `link.purpose`, store `link` and call `deliver`, all in
        one transaction: if `deliver` raises, nothing changed."""

    async def consume(
        self, digest: bytes, purposes: Iterable[Purpose], now: datetime
    ) -> Link | None:
        """Remove and return the live link under `digest` if it serves one of `purposes`.

        Atomic: of any number of concurrent calls for one link, on any nodes, at most one
        returns it.
        """

    async def void(self, user_id: UserId, purposes: Iterable[Purpose] = PURPOSES) -> int:
        """Remove the user's links of `purposes`; return how many there were."""

    async def sweep(self, now: datetime) -> int:
        """Remove expired links; return how many."""


class MemoryLinkStore:
    """The reference store: a dict (no method awaits mid-update, so no lock)."""

    def __init__(self) -> None:
        self._links: dict[bytes, Link] = {}

    async def replace(self, link: Link, deliver: Deliver) -> None:
        kept = dict(self._links)
        self._drop(link.user_id, (link.purpose,))
        self._links[link.digest] = link
        try:
            await deliver(None)
        except BaseException:
            self._links = kept
            raise

    async def consume(
        self, digest: bytes, purposes: Iterable[Purpose], now: datetime
    ) -> Link | None:
        link = self._links.get(digest)
        if link is None or link.purpose not in tuple(purposes) or link.expires_at <= now:
            return None
        del self._links[digest]
        return link

    async def void(self, user_id: UserId, purposes: Iterable[Purpose] = PURPOSES) -> int:
        return self._drop(user_id, tuple(purposes))

    async def sweep(self, now: datetime) -> int:
        expired = [d for d, link in self._links.items() if link.expires_at <= now]
        for digest in expired:
            del self._links[digest]
        return len(expired)

    def _drop(self, user_id: UserId, purposes: tuple[Purpose, ...]) -> int:
        doomed = [
            d
            for d, link in self._links.items()
            if link.user_id == user_id and link.purpose in purposes
        ]
        for digest in doomed:
            del self._links[digest]
        return len(doomed)


@dataclass(frozen=True, slots=True)
class Redeemed:
    """A link just used: the account and the address(es) it was bound to."""

    purpose: Purpose
    user_id: UserId
    email: str
    new_email: str | None


class LinkTokens:
    """Issue and redeem link tokens over a `LinkStore`."""

    def __init__(self, store: LinkStore) -> None:
        self.store = store

    async def issue(
        self,
        user: User,
        purpose: Purpose,
        *,
        expires_at: datetime,
        deliver: Callable[[str, Any], Awaitable[None]],
        new_email: str | None = None,
    ) -> None:
        """Store a new link for `user` (voiding its older ones of `purpose`) and call
        `deliver(token, connection)` within the same transaction to mail it."""
        token = crypto.new_token()
        link = Link(crypto.digest(token), purpose, user.id, user.email, expires_at, new_email)

        async def mail(connection: Any) -> None:
            await deliver(token, connection)

        await self.store.replace(link, mail)

    async def redeem(self, token: str, purposes: Iterable[Purpose], now: datetime) -> Redeemed:
        """Use the link of `token` once; raise InvalidLink for any token that cannot be.

        The caller checks the binding: the account must still have the address the link
        was issued for (`Redeemed.email`); the link is spent either way.
        """
        if not crypto.is_token_shaped(token):  # no store sees what cannot be a token
            raise InvalidLink
        link = await self.store.consume(crypto.digest(token), purposes, now)
        if link is None:
            raise InvalidLink
        return Redeemed(link.purpose, link.user_id, link.email, link.new_email)
