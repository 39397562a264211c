"""Where passkeys and their challenges live: the PasskeyStore port and its memory implementation."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Protocol

from authward.errors import TooManyPasskeys
from authward.events import Then
from authward.factors.models import Passkey, PasskeyChallenge
from authward.ids import UserId


class PasskeyStore(Protocol):
    """Users' passkeys, and the WebAuthn challenges handed out but not yet answered.

    Three operations decide races and must be atomic on every node: `add` (the user's
    passkeys are counted and the new one kept in one step, so two registrations at the
    cap less one cannot both get in), `take_challenge` (a challenge is answered once) and
    `record_use` (a signature counter only moves on from the value the signature was
    checked against).

    `add` and `remove` take `then`, the notice of the change: a SQL store calls it with
    its connection inside the write's transaction when a row changed, so that the notice
    commits with the change or neither does; a memory store calls it with None after.
    """

    async def add(self, passkey: Passkey, *, limit: int, then: Then | None = None) -> bool:
        """Keep a new passkey if its user holds fewer than `limit`; False when its
        credential id is registered already. TooManyPasskeys when the user holds `limit`."""

    async def of_user(self, user_id: UserId) -> list[Passkey]:
        """The user's passkeys, oldest first."""

    async def by_credential(self, credential_id: bytes) -> Passkey | None: ...

    async def remove(self, user_id: UserId, passkey_id: str, *, then: Then | None = None) -> bool:
        """Remove one of the user's passkeys; False when the user has none by that id."""

    async def remove_user(self, user_id: UserId) -> int: ...

    async def record_use(
        self, passkey_id: str, seen_count: int, new_count: int, backed_up: bool, at: datetime
    ) -> bool:
        """Move the counter from `seen_count` to `new_count`; False when it was no longer
        `seen_count` (another sign-in with the same authenticator, or a clone, won)."""

    async def add_challenge(self, challenge: PasskeyChallenge) -> None: ...

    async def take_challenge(self, digest: bytes) -> PasskeyChallenge | None:
        """Remove and return the challenge, expired or not; None for every caller but one."""

    async def sweep(self, now: datetime) -> int:
        """Remove expired challenges; return how many went."""


class MemoryPasskeyStore:
    """The reference store: dicts, for tests and single-process embedding."""

    def __init__(self) -> None:
        # No lock: no method awaits between its read and its write.
        self._passkeys: dict[str, Passkey] = {}
        self._challenges: dict[bytes, PasskeyChallenge] = {}

    async def add(self, passkey: Passkey, *, limit: int, then: Then | None = None) -> bool:
        if any(p.credential_id == passkey.credential_id for p in self._passkeys.values()):
            return False
        if sum(p.user_id == passkey.user_id for p in self._passkeys.values()) >= limit:
            raise TooManyPasskeys
        self._passkeys[passkey.id] = passkey
        if then is not None:
            await then(None)  # no transaction to join: after the change
        return True

    async def of_user(self, user_id: UserId) -> list[Passkey]:
        mine = [p for p in self._passkeys.values() if p.user_id == user_id]
        return sorted(mine, key=lambda p: (p.created_at, p.id))

    async def by_credential(self, credential_id: bytes) -> Passkey | None:
        return next((p for p in self._passkeys.values() if p.credential_id == credential_id), None)

    async def remove(self, user_id: UserId, passkey_id: str, *, then: Then | None = None) -> bool:
        found = self._passkeys.get(passkey_id)
        if found is None or found.user_id != user_id:
            return False
        del self._passkeys[passkey_id]
        if then is not None:
            await then(None)
        return True

    async def remove_user(self, user_id: UserId) -> int:
        doomed = [p.id for p in self._passkeys.values() if p.user_id == user_id]
        for passkey_id in doomed:
            del self._passkeys[passkey_id]
        return len(doomed)

    async def record_use(
        self, passkey_id: str, seen_count: int, new_count: int, backed_up: bool, at: datetime
    ) -> bool:
        found = self._passkeys.get(passkey_id)
        if found is None or found.sign_count != seen_count:
            return False
        self._passkeys[passkey_id] = replace(
            found, sign_count=new_count, backed_up=backed_up, last_used_at=at
        )
        return True

    async def add_challenge(self, challenge: PasskeyChallenge) -> None:
        self._challenges[challenge.digest] = challenge

    async def take_challenge(self, digest: bytes) -> PasskeyChallenge | None:
        return self._challenges.pop(digest, None)

    async def sweep(self, now: datetime) -> int:
        doomed = [d for d, c in self._challenges.items() if c.expires_at <= now]
        for digest in doomed:
            del self._challenges[digest]
        return len(doomed)
