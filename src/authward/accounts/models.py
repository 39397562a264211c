"""The user record, and the account an app is handed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from authward.ids import UserId


@dataclass(frozen=True, slots=True)
class User:
    """A registered account; `email` is already normalised (NFKC, case-folded)."""

    id: UserId
    email: str
    password_hash: str
    created_at: datetime
    disabled: bool = False
    # Whether the owner of `email` proved it (a verification or reset link was used).
    email_verified: bool = False

    def __repr__(self) -> str:  # the hash is not a secret, but it has no place in a log
        return (
            f"User(id={self.id!r}, email={self.email!r}, disabled={self.disabled},"
            f" email_verified={self.email_verified})"
        )

    @property
    def account(self) -> Account:
        """What an app may see of this user: everything but the password hash."""
        return Account(self.id, self.email, self.created_at, self.disabled, self.email_verified)


@dataclass(frozen=True, slots=True)
class Account:
    """The account behind a caller, as `Authward.current_account` hands it to an app.

    Frozen and without the password hash, so a node can keep it in memory and share one
    object between requests (`authward.accounts.cache`). An app with a user model of its
    own builds it from this (its id is the app's key): see docs/library.md.
    """

    id: UserId
    email: str
    created_at: datetime
    disabled: bool = False
    email_verified: bool = False
