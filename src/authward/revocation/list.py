"""The revocation list each node consults on every verification, without I/O.

Two kinds of entry, each kept until no token it could hit can still be valid:

* a revoked family, by its id (the ``sid`` claim): every access token of the family
  fails, whenever in the second it was issued;
* a user's "not before": tokens of the user issued in an *earlier* second fail.

``iat`` has whole seconds, so a cutoff cannot split the second in which it falls: a
token issued just before a logout-all and one issued just after the next login may both
carry that second. The cutoff therefore spares its own second, where the revoked
families' ids do the exact work (each token issued before the revocation belongs to a
family revoked by id, and a login after it starts a new family), and a user who logs
out everywhere and straight back in is not locked out. The cutoff is the safety net for
tokens of families the revoking node did not see.

The bus also carries the end of sessions (kinds ``session``, by id digest in hex, and
``sessions``, every session of a user) for nodes that cache sessions
(`authward.sessions.cache`), and the change of an account (kind ``account``, by user id)
for nodes that cache accounts (`authward.accounts.cache`); this list ignores them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal

from authward.ids import UserId

RevocationKind = Literal["family", "user", "session", "sessions", "account"]
TOKEN_KINDS: Final = frozenset({"family", "user"})


@dataclass(frozen=True, slots=True)
class Revocation:
    """One revocation, as the bus carries it: `subject` is a family id or a user id."""

    kind: RevocationKind
    subject: str
    at: datetime
    until: datetime  # after this, no token it could hit is valid anyway

    @property
    def not_before(self) -> datetime:
        """For a user revocation: tokens issued in an earlier second fail."""
        return self.at.replace(microsecond=0)


class RevocationList:
    """Revoked families and per-user cutoffs, in memory; applying is idempotent."""

    def __init__(self) -> None:
        self._families: dict[str, datetime] = {}  # id -> until
        self._users: dict[UserId, tuple[datetime, datetime]] = {}  # id -> (not before, until)

    def __len__(self) -> int:
        return len(self._families) + len(self._users)

    def apply(self, revocation: Revocation) -> None:
        """Take a revocation into account (again: duplicates change nothing)."""
        if revocation.kind not in TOKEN_KINDS:
            return
        if revocation.kind == "family":
            known = self._families.get(revocation.subject)
            self._families[revocation.subject] = max(revocation.until, known or revocation.until)
            return
        not_before, until = revocation.not_before, revocation.until
        if (known_user := self._users.get(revocation.subject)) is not None:
            not_before, until = max(not_before, known_user[0]), max(until, known_user[1])
        self._users[revocation.subject] = (not_before, until)

    def is_revoked(self, sid: str, user_id: UserId, issued_at: datetime) -> bool:
        """Tell whether a token of family `sid`, for `user_id`, issued at `issued_at` is revoked."""
        if sid in self._families:
            return True
        cutoff = self._users.get(user_id)
        return cutoff is not None and issued_at < cutoff[0]

    def prune(self, now: datetime) -> int:
        """Forget entries that can no longer hit a valid token; return how many."""
        families = [sid for sid, until in self._families.items() if until <= now]
        users = [uid for uid, (_, until) in self._users.items() if until <= now]
        for sid in families:
            del self._families[sid]
        for uid in users:
            del self._users[uid]
        return len(families) + len(users)
