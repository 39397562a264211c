"""Where users live: the UserStore port and its memory implementation."""

from __future__ import annotations

from dataclasses import replace
from typing import Protocol

from authward.accounts.emails import skeleton_digest
from authward.accounts.models import Account, User
from authward.errors import EmailTaken
from authward.events import Then
from authward.ids import UserId


class UserStore(Protocol):
    """Accounts keyed by id and by normalised email.

    Lookups match the normalised email exactly: a look-alike finds nobody. Only `add`
    compares confusable skeletons (Unicode TS #39), so that no look-alike can join.
    """

    async def add(self, user: User) -> None:
        """Store a new user; raise EmailTaken when the email, or an address that looks
        the same (`authward.accounts.emails.skeleton`), is in use."""

    async def get(self, user_id: UserId) -> User | None: ...

    async def get_by_email(self, email: str) -> User | None: ...

    async def set_password_hash(self, user_id: UserId, password_hash: str) -> None: ...

    async def set_disabled(self, user_id: UserId, disabled: bool) -> bool:
        """Set the flag; return False when there is no such user."""

    async def set_email_verified(self, user_id: UserId) -> None:
        """Mark the account's current email as proven by its owner."""

    async def change_email(self, user_id: UserId, email: str, *, expected: str) -> bool:
        """Set a new, verified `email` if the account's is still `expected`; return whether
        it changed. Raise EmailTaken when `email` or a look-alike is another account's."""

    async def list(self, *, limit: int = 100, offset: int = 0) -> list[User]: ...

    async def remove(self, user_id: UserId) -> bool:
        """Delete the user; its email is free again. Return False when there is none."""


class NoticedPasswords(Protocol):
    """A user store that writes a password change's notice with it: authward's own
    (`MemoryUserStore`, ``SqlUserStore``, the account cache in front of either).

    Apart from `UserStore`, so that an application's own adapter needs no `then`: the
    runtime hands one the password notices through the events instead (queued just after
    the change, as before).
    """

    async def set_password_hash(
        self, user_id: UserId, password_hash: str, *, then: Then | None = None
    ) -> None:
        """Set the hash; when a row changed, call `then` in the same transaction (a memory
        store: after the change), so that the notice commits with it or neither does."""


class NoticedEmails(Protocol):
    """A user store that writes an email change's notice (to the old address) with it:
    authward's own, as `NoticedPasswords`. Apart from `UserStore` for the same reason:
    over an application's adapter the flow queues that notice just after the change."""

    async def change_email(
        self, user_id: UserId, email: str, *, expected: str, then: Then | None = None
    ) -> bool:
        """`UserStore.change_email`; when a row changed, call `then` in the same
        transaction (a memory store: after the change), so that the notice commits with
        the new address or neither does."""


class KeptAccounts(Protocol):
    """A node's cache of accounts (`authward.accounts.cache.CachedUserStore`).

    The assembly hands it to `AccountService` beside the user store it fronts (the same
    object), so the service finds it without asking what its store is.
    """

    def kept(self, user_id: UserId) -> Account | None:
        """The kept account of this user while it is fresh; no I/O, no await."""

    async def account(self, user_id: UserId) -> Account | None:
        """The account, from memory or read (and kept); None if there is none."""


class MemoryUserStore:
    """The reference implementation: a dict, for tests and embedding."""

    def __init__(self) -> None:
        self._by_id: dict[UserId, User] = {}
        self._id_by_email: dict[str, UserId] = {}
        self._id_by_skeleton: dict[bytes, UserId] = {}

    async def add(self, user: User) -> None:
        digest = skeleton_digest(user.email)
        if user.email in self._id_by_email or digest in self._id_by_skeleton:
            raise EmailTaken
        self._by_id[user.id] = user
        self._id_by_email[user.email] = user.id
        self._id_by_skeleton[digest] = user.id

    async def get(self, user_id: UserId) -> User | None:
        return self._by_id.get(user_id)

    async def get_by_email(self, email: str) -> User | None:
        user_id = self._id_by_email.get(email)
        return None if user_id is None else self._by_id.get(user_id)

    async def set_password_hash(
        self, user_id: UserId, password_hash: str, *, then: Then | None = None
    ) -> None:
        if (user := self._by_id.get(user_id)) is not None:
            self._by_id[user_id] = replace(user, password_hash=password_hash)
            if then is not None:
                await then(None)  # no transaction to join: after the change

    async def set_disabled(self, user_id: UserId, disabled: bool) -> bool:
        if (user := self._by_id.get(user_id)) is None:
            return False
        self._by_id[user_id] = replace(user, disabled=disabled)
        return True

    async def set_email_verified(self, user_id: UserId) -> None:
        if (user := self._by_id.get(user_id)) is not None:
            self._by_id[user_id] = replace(user, email_verified=True)

    async def change_email(
        self, user_id: UserId, email: str, *, expected: str, then: Then | None = None
    ) -> bool:
        user = self._by_id.get(user_id)
        if user is None or user.email != expected:
            return False
        digest, old_digest = skeleton_digest(email), skeleton_digest(user.email)
        if self._id_by_email.get(email, user_id) != user_id:
            raise EmailTaken
        if self._id_by_skeleton.get(digest, user_id) != user_id:
            raise EmailTaken
        del self._id_by_email[user.email]
        if self._id_by_skeleton.get(old_digest) == user_id:
            del self._id_by_skeleton[old_digest]
        self._by_id[user_id] = replace(user, email=email, email_verified=True)
        self._id_by_email[email] = user_id
        self._id_by_skeleton[digest] = user_id
        if then is not None:
            await then(None)  # no transaction to join: after the change
        return True

    async def list(self, *, limit: int = 100, offset: int = 0) -> list[User]:
        users = sorted(self._by_id.values(), key=lambda u: (u.created_at, u.id))
        return users[offset : offset + limit]

    async def remove(self, user_id: UserId) -> bool:
        if (user := self._by_id.pop(user_id, None)) is None:
            return False
        del self._id_by_email[user.email]
        del self._id_by_skeleton[skeleton_digest(user.email)]
        return True
