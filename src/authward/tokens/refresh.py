"""Refresh tokens: opaque, single use, chained in families; reuse revokes the family.

A login starts a family and gets its first refresh token: 256 random bits, of which the
store keeps only the SHA-256 digest. `rotate` spends the presented token and returns
the next one, atomically: of two racing rotations of one token exactly one wins.

A spent token that comes back means two parties hold the family's tokens, and the
server cannot tell which one is the thief: the whole family is revoked and
`RefreshReuse` raised (RFC 9700 §4.14.2, OAuth 2.0 Security BCP). One exception, so
that a client racing itself (two tabs, a retried request) is not logged out: the token
spent by the family's *latest* rotation, presented within the grace window
(``AUTHWARD_REFRESH_GRACE`` seconds) *from the device that rotated it*, is refused with
a plain `InvalidToken` and the family lives on. The loser of such a race should use the
new token the winner received. From any other device, or later, it is reuse.

A family's lifetime counts from its login and never slides (``AUTHWARD_REFRESH_TTL``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from authward import crypto
from authward.clock import Clock
from authward.errors import InvalidToken, RefreshReuse
from authward.ids import Device, UserId
from authward.metrics import REFRESH_REUSE
from authward.tokens.models import Family
from authward.tokens.store import FamilyStore, TokenLookup

OnRevoked = Callable[[list[str], datetime], Awaitable[None]]
OnReuse = Callable[[Family, Device], Awaitable[None]]
Vouch = Callable[[Family], None]


@dataclass(frozen=True, slots=True)
class RefreshPolicy:
    ttl: timedelta
    grace: timedelta


class RefreshTokens:
    """Start, rotate and revoke refresh token families.

    `on_revoked` hears of every family this class revokes (the service forwards them
    to the revocation bus, so their access tokens stop verifying too); `on_reuse` of each
    family revoked because a spent token came back, and from which device.
    """

    def __init__(
        self,
        store: FamilyStore,
        policy: RefreshPolicy,
        clock: Clock,
        on_revoked: OnRevoked,
        *,
        on_reuse: OnReuse | None = None,
    ) -> None:
        self.store = store
        self._policy = policy
        self._clock = clock
        self._on_revoked = on_revoked
        self._on_reuse = on_reuse

    async def start(
        self, user_id: UserId, device: Device, amr: tuple[str, ...] = ("pwd",)
    ) -> tuple[str, Family]:
        """Start a family for a login (authenticated by `amr`, now); return its first
        refresh token and the family."""
        now = self._clock.now()
        family = Family(
            id=crypto.new_handle(),
            user_id=user_id,
            created_at=now,
            expires_at=now + self._policy.ttl,
            last_seen_at=now,
            device=device,
            auth_time=now,
            amr=amr,
        )
        token = crypto.new_token()
        await self.store.add(family, crypto.digest(token))
        return token, family

    async def rotate(
        self, token: str, device: Device, *, vouch: Vouch | None = None
    ) -> tuple[str, Family]:
        """Spend `token` and return the family's next one.

        Raises InvalidToken for an unknown, malformed, expired or revoked token (and for
        the forgiven race above), RefreshReuse when a spent token came back. `vouch`,
        when given, is shown the token's live family first and may raise: then nothing
        is spent and nothing revoked (a forged request must not rotate a family).
        """
        if not isinstance(token, str) or not crypto.is_token_shaped(token):
            raise InvalidToken
        old_digest = crypto.digest(token)
        now = self._clock.now()
        found = await self._live(old_digest, now)
        if vouch is not None:
            vouch(found.family)
        if found.spent_at is None:
            new_token = crypto.new_token()
            if await self.store.rotate(
                found.family.id, old_digest, crypto.digest(new_token), now, device
            ):
                return new_token, replace(found.family, last_seen_at=now, device=device)
            # Lost a race: someone spent it (or revoked the family) since we looked.
            found = await self._live(old_digest, now)
            if found.spent_at is None:
                raise InvalidToken
        if self._forgiven(found, now, device):
            raise InvalidToken
        await self._revoke_for_reuse(found.family, now)
        if self._on_reuse is not None:
            await self._on_reuse(found.family, device)
        raise RefreshReuse

    async def reauthenticate(
        self, family_id: str, user_id: UserId, device: Device
    ) -> tuple[str, Family] | None:
        """Make now the auth time of the user's live family (step-up); None if none.

        The family's current refresh token is spent in the same write, as a rotation
        spends it, and the new one returned: it is what the client holds from now on,
        and the old one coming back is reuse (or, from `device` within the grace, a
        client racing itself) like any spent token.
        """
        if not crypto.is_handle_shaped(family_id):
            return None
        new_token = crypto.new_token()
        family = await self.store.reauthenticate(
            family_id, user_id, self._clock.now(), rotate_to=(crypto.digest(new_token), device)
        )
        return None if family is None else (new_token, family)

    async def revoke(self, family_id: str, *, user_id: UserId | None = None) -> bool:
        """Revoke one live family (only if it is `user_id`'s, when given).

        False, with no store lookup, for an id not shaped like a family id of ours.
        """
        if not crypto.is_handle_shaped(family_id):
            return False
        now = self._clock.now()
        if not await self.store.revoke(family_id, now, user_id=user_id):
            return False
        await self._on_revoked([family_id], now)
        return True

    async def revoke_presented(self, token: str) -> Family | None:
        """Revoke the live family whose current refresh token is `token`; return it.

        None, and nothing revoked, for anything else: a malformed, unknown, expired or
        spent token, or a family already revoked (RFC 7009 §2.2: the client cannot tell).
        """
        if not isinstance(token, str) or not crypto.is_token_shaped(token):
            return None
        now = self._clock.now()
        found = await self.store.find(crypto.digest(token))
        if found is None or found.spent_at is not None or not found.family.live(now):
            return None
        return found.family if await self.revoke(found.family.id) else None

    async def revoke_user(self, user_id: UserId, *, keep: str | None = None) -> list[str]:
        """Revoke every live family of the user except `keep`."""
        now = self._clock.now()
        revoked = await self.store.revoke_user(user_id, now, keep=keep)
        if revoked:
            await self._on_revoked(revoked, now)
        return revoked

    async def remove_user(self, user_id: UserId) -> int:
        """Drop every family of the user (revoke them first: this tells no node)."""
        return await self.store.remove_user(user_id)

    async def list_live(self, user_id: UserId) -> list[Family]:
        now = self._clock.now()
        return [f for f in await self.store.list_user(user_id) if f.live(now)]

    async def sweep(self) -> int:
        return await self.store.sweep(self._clock.now())

    async def _live(self, token_digest: bytes, now: datetime) -> TokenLookup:
        found = await self.store.find(token_digest)
        if found is None or not found.family.live(now):
            raise InvalidToken
        return found

    def _forgiven(self, found: TokenLookup, now: datetime, device: Device) -> bool:
        return (
            found.previous
            and found.spent_at is not None
            and now < found.spent_at + self._policy.grace
            and device == found.family.device
        )

    async def _revoke_for_reuse(self, family: Family, now: datetime) -> None:
        REFRESH_REUSE.inc()  # the security log line is the refresh_reuse event's (`on_reuse`)
        await self.store.revoke(family.id, now)
        await self._on_revoked([family.id], now)  # even if it was revoked meanwhile: idempotent
