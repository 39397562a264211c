"""Where second factors live: the FactorStore port and its memory implementation."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Protocol

from authward.events import Then
from authward.factors.models import Challenge, RecoveryCode, TotpFactor
from authward.ids import UserId


class FactorStore(Protocol):
    """TOTP secrets, recovery code hashes and login challenges.

    Three operations decide races and must be atomic on every node: `advance_step`
    (a TOTP code is accepted once), `spend_code` (a recovery code is used once) and
    `take_challenge` (an ``mfa_token`` finishes one login).

    The writes that decide a change the account is told of take `then`: a SQL store calls
    it with its connection inside the write's transaction, and only when the write changed
    a row (`remove_user`: whatever it removed), so that the notice mail commits with the
    change or neither does; a memory store calls it with None after the change.
    """

    async def get_totp(self, user_id: UserId) -> TotpFactor | None: ...

    async def put_pending_totp(self, factor: TotpFactor) -> bool:
        """Store an unconfirmed secret, replacing an unconfirmed one; False when one is on."""

    async def confirm_totp(self, user_id: UserId, step: int, *, then: Then | None = None) -> bool:
        """Turn the pending secret on with `step` as its last step; False if none was pending."""

    async def advance_step(self, user_id: UserId, step: int) -> bool:
        """Set the last accepted step to `step` if it is later than the stored one (and the
        factor is on); False otherwise: the code was used already, or a later one was."""

    async def remove_totp(self, user_id: UserId, *, then: Then | None = None) -> bool: ...

    async def replace_codes(
        self, user_id: UserId, codes: list[RecoveryCode], *, then: Then | None = None
    ) -> None:
        """Make `codes` the user's set; every older code is void."""

    async def unused_codes(self, user_id: UserId) -> list[RecoveryCode]: ...

    async def spend_code(
        self, user_id: UserId, code_id: str, at: datetime, *, then: Then | None = None
    ) -> bool:
        """Mark an unused code used; False when it was used (or voided) already."""

    async def remove_codes(self, user_id: UserId) -> int: ...

    async def add_challenge(self, challenge: Challenge) -> None: ...

    async def get_challenge(self, token_digest: bytes) -> Challenge | None:
        """The challenge, expired or not: the service decides what an expired one means."""

    async def take_challenge(self, token_digest: bytes) -> bool:
        """Remove the challenge; True for exactly one caller however many race for it."""

    async def sweep(self, now: datetime) -> int:
        """Remove expired challenges; return how many went."""

    async def remove_user(self, user_id: UserId, *, then: Then | None = None) -> int:
        """Remove every factor, code and challenge of the user, at once; return how many
        rows went. `then` runs whatever went: it tells of an operator's reset, which
        signs the account out too."""


class MemoryFactorStore:
    """The reference store: dicts, for tests and single-process embedding."""

    def __init__(self) -> None:
        # No lock: no method awaits between its read and its write.
        self._totp: dict[UserId, TotpFactor] = {}
        self._codes: dict[UserId, list[RecoveryCode]] = {}
        self._challenges: dict[bytes, Challenge] = {}

    async def get_totp(self, user_id: UserId) -> TotpFactor | None:
        return self._totp.get(user_id)

    async def put_pending_totp(self, factor: TotpFactor) -> bool:
        current = self._totp.get(factor.user_id)
        if current is not None and current.confirmed:
            return False
        self._totp[factor.user_id] = replace(factor, confirmed=False)
        return True

    async def confirm_totp(self, user_id: UserId, step: int, *, then: Then | None = None) -> bool:
        current = self._totp.get(user_id)
        if current is None or current.confirmed or current.last_step >= step:
            return False
        self._totp[user_id] = replace(current, confirmed=True, last_step=step)
        await _after(then)
        return True

    async def advance_step(self, user_id: UserId, step: int) -> bool:
        current = self._totp.get(user_id)
        if current is None or not current.confirmed or current.last_step >= step:
            return False
        self._totp[user_id] = replace(current, last_step=step)
        return True

    async def remove_totp(self, user_id: UserId, *, then: Then | None = None) -> bool:
        if self._totp.pop(user_id, None) is None:
            return False
        await _after(then)
        return True

    async def replace_codes(
        self, user_id: UserId, codes: list[RecoveryCode], *, then: Then | None = None
    ) -> None:
        self._codes[user_id] = list(codes)
        if codes:
            await _after(then)

    async def unused_codes(self, user_id: UserId) -> list[RecoveryCode]:
        return [c for c in self._codes.get(user_id, []) if c.used_at is None]

    async def spend_code(
        self, user_id: UserId, code_id: str, at: datetime, *, then: Then | None = None
    ) -> bool:
        codes = self._codes.get(user_id, [])
        for index, code in enumerate(codes):
            if code.code_id == code_id and code.used_at is None:
                codes[index] = replace(code, used_at=at)
                await _after(then)
                return True
        return False

    async def remove_codes(self, user_id: UserId) -> int:
        return len(self._codes.pop(user_id, []))

    async def add_challenge(self, challenge: Challenge) -> None:
        self._challenges[challenge.token_digest] = challenge

    async def get_challenge(self, token_digest: bytes) -> Challenge | None:
        return self._challenges.get(token_digest)

    async def take_challenge(self, token_digest: bytes) -> bool:
        return self._challenges.pop(token_digest, None) is not None

    async def sweep(self, now: datetime) -> int:
        doomed = [d for d, c in self._challenges.items() if c.expires_at <= now]
        for digest in doomed:
            del self._challenges[digest]
        return len(doomed)

    async def remove_user(self, user_id: UserId, *, then: Then | None = None) -> int:
        totp = 1 if self._totp.pop(user_id, None) is not None else 0
        codes = len(self._codes.pop(user_id, []))
        doomed = [d for d, c in self._challenges.items() if c.user_id == user_id]
        for digest in doomed:
            del self._challenges[digest]
        await _after(then)
        return totp + codes + len(doomed)


async def _after(then: Then | None) -> None:
    """A memory store's `then`: no transaction to join, so after the change."""
    if then is not None:
        await then(None)
