"""The user record."""

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
