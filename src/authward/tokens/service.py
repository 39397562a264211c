"""The JWT strategy behind one facade: what the web layer and the CLI call.

`TokenService` ties the key ring, access tokens, refresh families and the revocation
list together. `verify` is synchronous and does no I/O: the keys and the revocation
list are in memory, kept current by two background polls that `open` starts (keys
every `KEY_POLL_INTERVAL` seconds, revocations every ``AUTHWARD_REVOCATION_POLL_INTERVAL``),
so a rotation or a revocation made by another process is in force here within those
bounds. When the revocation feed has been unreachable for `STALE_AFTER_POLLS` intervals
(at least `MIN_STALE_AFTER`), `verify` fails closed with StoreUnavailable rather than
honour tokens that may have been revoked elsewhere; it heals with the next good poll.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final

from authward import crypto
from authward.background import stop
from authward.clock import Clock
from authward.csrf import DerivedCsrf
from authward.errors import InvalidToken, NotFound, StoreUnavailable, TokenRevoked
from authward.events import Events
from authward.ids import Device, UserId
from authward.masterkey import MasterSecret
from authward.metrics import REVOCATIONS
from authward.revocation.bus import RevocationBus
from authward.revocation.list import Revocation, RevocationList
from authward.settings import Settings
from authward.throttle.throttles import RefreshThrottle
from authward.throttle.window import judged
from authward.tokens import jwk
from authward.tokens.access import AccessTokens
from authward.tokens.keys import PROPAGATION, KeyRing
from authward.tokens.models import AccessClaims, Family, KeyInfo
from authward.tokens.refresh import RefreshPolicy, RefreshTokens
from authward.tokens.store import FamilyStore, KeyStore

__all__ = ["AccessClaims", "Family", "KeyInfo", "TokenPair", "TokenService"]

log = logging.getLogger(__name__)

KEY_POLL_INTERVAL: Final = 2.0  # seconds; the contract allows a rotation 10 s to spread
CSRF_KEY_PURPOSE: Final = "authward/token-csrf"
STALE_AFTER_POLLS: Final = 10
MIN_STALE_AFTER: Final = 10.0  # seconds


@dataclass(frozen=True, slots=True)
class TokenPair:
    """What a login or a refresh hands the client; `repr` hides both tokens."""

    access_token: str = field(repr=False)
    expires_in: int
    refresh_token: str = field(repr=False)
    family: Family


class TokenService:
    """Issue, refresh, verify and revoke tokens; rotate and publish keys.

    The stores and the bus are given, never chosen here: `authward.runtime` picks them
    from Settings (`build_tokens`).
    """

    def __init__(
        self,
        settings: Settings,
        master: MasterSecret,
        clock: Clock,
        *,
        keys: KeyStore,
        families: FamilyStore,
        bus: RevocationBus,
        key_poll_interval: float = KEY_POLL_INTERVAL,
        cache_size: int = 10_000,
        rsa_bits: int = jwk.RSA_BITS,
        events: Events | None = None,
        throttle: RefreshThrottle | None = None,
    ) -> None:
        self.settings = settings
        self._throttle = throttle
        self._csrf = DerivedCsrf(master.derive(CSRF_KEY_PURPOSE))
        self._clock = clock
        self.events = events or Events(clock)
        ttl = timedelta(seconds=settings.access_ttl)
        leeway = timedelta(seconds=settings.leeway)
        # After a revocation or a key retirement, a token issued before it may still be
        # valid somewhere for this long (its TTL, the leeway, a poll that came late).
        self.window = ttl + leeway + PROPAGATION
        self.ring = KeyRing(
            keys, master, clock, alg=settings.jwt_alg, window=self.window, rsa_bits=rsa_bits
        )
        self.access = AccessTokens(
            self.ring,
            issuer=settings.issuer,
            audience=settings.audience,
            client_id=settings.client_id,
            ttl=ttl,
            leeway=leeway,
            cache_size=cache_size,
        )
        self.refresh_tokens = RefreshTokens(
            families,
            RefreshPolicy(
                ttl=timedelta(seconds=settings.refresh_ttl),
                grace=timedelta(seconds=settings.refresh_grace),
            ),
            clock,
            on_revoked=self._count_revoked,
            on_reuse=self._reused,
        )
        self.revocations = RevocationList()
        self.bus = bus
        bus.subscribe(self.revocations.apply)
        self._key_poll_interval = key_poll_interval
        self._revocation_poll_interval = settings.revocation_poll_interval
        self._stale_after: float | None = None
        self._synced_at = time.monotonic()
        self._feed_ok = True
        self._tasks: list[asyncio.Task[None]] = []

    async def open(self, *, background: bool = True) -> None:
        """Ensure a signing key exists, load keys and revocations, start the polls.

        Without `background` (a short-lived CLI process) nothing polls. Raises
        KeyUnavailable when the active key does not open with this master secret. With
        `background`, a revocation feed that does not answer (Redis down at start) is no
        reason to fail: `verify` answers StoreUnavailable until the first good poll.
        """
        await self.ring.ensure_active()
        try:
            for revocation in await self.bus.resync():
                self.revocations.apply(revocation)
            self._synced_at, self._feed_ok = time.monotonic(), True
        except StoreUnavailable:
            if not background:
                raise
            # Start anyway (a server must answer 503, not crash), failing verification
            # closed until the first good poll brings the list up to date.
            # Info, not a warning: the store's own watcher (the Redis subscriber) warns.
            log.info("revocation feed unavailable at start; tokens refused until it answers")
            self._synced_at, self._feed_ok = float("-inf"), False
        if background and not self._tasks:
            interval = self._revocation_poll_interval
            self._stale_after = max(MIN_STALE_AFTER, STALE_AFTER_POLLS * interval)
            self._tasks = [
                asyncio.create_task(self._every(self._key_poll_interval, self.sync_keys)),
                asyncio.create_task(self._every(interval, self.sync_revocations)),
            ]

    async def close(self) -> None:
        """Stop the polls; the stores are the caller's (the engine is shared)."""
        tasks, self._tasks, self._stale_after = self._tasks, [], None
        await stop(tasks)

    async def issue(
        self, user_id: UserId, device: Device, *, amr: tuple[str, ...] = ("pwd",)
    ) -> TokenPair:
        """Start a family for a login authenticated by `amr`, and return its first pair."""
        self.ring.signing_key()  # no family for a login that cannot get a token
        refresh_token, family = await self.refresh_tokens.start(user_id, device, amr)
        pair = self._pair(refresh_token, family)
        await self.events.emit("login", user_id=user_id, via="jwt", handle=family.id, device=device)
        return pair

    async def refresh(
        self,
        refresh_token: str,
        device: Device,
        *,
        by_cookie: bool = False,
        csrf_token: str | None = None,
    ) -> TokenPair:
        """Spend a refresh token for a new pair; raise InvalidToken or RefreshReuse.

        With a throttle, TooManyAttempts once the client address (`device.ip`) or this
        token failed too often. A malformed token is refused first, with no I/O at all.
        A token that came in a cookie (`by_cookie`) needs its family's CSRF token: without
        it, CsrfRejected before anything is spent.
        """
        if not isinstance(refresh_token, str) or not crypto.is_token_shaped(refresh_token):
            raise InvalidToken

        def vouch(family: Family) -> None:
            self.check_csrf(family.id, csrf_token)

        def rotate() -> Awaitable[tuple[str, Family]]:
            return self.refresh_tokens.rotate(
                refresh_token, device, vouch=vouch if by_cookie else None
            )

        if self._throttle is None:
            new_token, family = await rotate()
        else:
            attempt = await self._throttle.attempt(refresh_token, device.ip)
            # A CSRF refusal is not a failed guess: it gives its slot back like any error.
            async with judged(attempt, InvalidToken):
                new_token, family = await rotate()
        return self._pair(new_token, family)

    async def reauthenticate(self, user_id: UserId, family_id: str, device: Device) -> TokenPair:
        """Step-up: the family's login is now; return a new pair of the same family.

        The family keeps its methods and its expiry; its refresh token is rotated as a
        refresh rotates it (the one the client held is spent), so every later pair
        carries the new auth time too. Raises InvalidToken when the family is not the
        user's or no longer live.
        """
        renewed = await self.refresh_tokens.reauthenticate(family_id, user_id, device)
        if renewed is None:
            raise InvalidToken
        return self._pair(*renewed)

    def verify(self, token: str) -> AccessClaims:
        """Return the claims of a valid, unrevoked access token; no I/O.

        Raises InvalidToken for any token that does not hold, whatever its shape, and
        StoreUnavailable while the revocation feed is too stale to vouch for it.
        """
        now = self._clock.now()
        claims = self.access.verify(token, now)
        if self.revocations.is_revoked(claims.sid, claims.sub, claims.iat):
            raise TokenRevoked
        if self._stale_after is not None and time.monotonic() - self._synced_at > self._stale_after:
            raise StoreUnavailable("revocations")
        return claims

    def csrf_token(self, family_id: str) -> str:
        """The CSRF token of a family's cookie callers: an HMAC of its id under the CSRF key.

        Derived, never stored, like a session's: it stays the same across refreshes (the
        family does), and another family's token, the attacker's own login included, is
        worth nothing here.
        """
        return self._csrf.token(family_id)

    def check_csrf(self, family_id: str, presented: str | None) -> None:
        """Raise CsrfRejected unless `presented` is this family's CSRF token."""
        self._csrf.check(family_id, presented)

    async def revoke_family(self, family_id: str) -> None:
        """Revoke a family: its refresh token and every access token of it, on every node."""
        if not await self.refresh_tokens.revoke(family_id):
            # Already revoked, or gone: say so again, so that every node surely knows.
            await self._families_revoked([family_id], self._clock.now())

    async def revoke_refresh_token(self, refresh_token: str) -> Family | None:
        """Revoke the family of a live refresh token, for whoever holds it (RFC 7009).

        Holding the family's current refresh token is the proof: no access token is
        needed. Returns the revoked family; None for any other token, which revokes
        nothing and is not an error (the caller answers alike, so it tells nothing).
        """
        family = await self.refresh_tokens.revoke_presented(refresh_token)
        if family is not None:
            await self.events.emit("revoke", user_id=family.user_id, via="jwt", handle=family.id)
        return family

    async def revoke_user(self, user_id: UserId, *, keep_family: str | None = None) -> None:
        """Revoke every family of the user but `keep_family`, and their access tokens.

        Without a family to keep, a per-user cutoff also fails every token of the user
        issued in an earlier second (see `authward.revocation.list`).
        """
        now = self._clock.now()
        await self.refresh_tokens.revoke_user(user_id, keep=keep_family)
        if keep_family is None:
            await self.bus.publish(Revocation("user", user_id, now, now + self.window))
            REVOCATIONS.labels("user").inc()

    async def forget_user(self, user_id: UserId) -> None:
        """Revoke every family and access token of the user on every node, then drop the
        families' records (an account being deleted)."""
        await self.revoke_user(user_id)
        await self.refresh_tokens.remove_user(user_id)

    async def list_families(self, user_id: UserId) -> list[Family]:
        """The user's live families, oldest first."""
        return await self.refresh_tokens.list_live(user_id)

    async def revoke_by_handle(self, user_id: UserId, family_id: str) -> None:
        """Revoke one of the user's live families; NotFound when it is not one."""
        if not await self.refresh_tokens.revoke(family_id, user_id=user_id):
            raise NotFound
        await self.events.emit("revoke", user_id=user_id, via="jwt", handle=family_id)

    def jwks(self) -> dict[str, object]:
        """The JWK Set of public keys that verify now (empty with HS256)."""
        return self.ring.jwks(self._clock.now())

    async def rotate_keys(self) -> KeyInfo:
        """Make a new key sign from now on; works without `open` (the CLI)."""
        info = await self.ring.rotate()
        await self.events.emit("key_rotated", handle=info.kid)
        return info

    async def list_keys(self) -> list[KeyInfo]:
        """Every stored key as the store has it now, oldest first."""
        await self.sync_keys()
        return self.ring.list_keys(self._clock.now())

    async def sweep(self) -> int:
        """Drop expired families, spent digests, revocations and keys; return how many."""
        now = self._clock.now()
        removed = await self.refresh_tokens.sweep()
        removed += await self.bus.sweep(now)
        removed += await self.ring.sweep()
        self.access.forget_expired(now)  # memory only: not counted as records removed
        return removed + self.revocations.prune(now)

    async def sync_keys(self) -> None:
        """Reload the keys now (the background poll does this every few seconds)."""
        if await self.ring.refresh():
            self.access.forget()  # a key was withdrawn: its tokens must not be remembered

    async def sync_revocations(self) -> None:
        """Take in other nodes' revocations now (the background poll does this too)."""
        try:
            await self.bus.sync()
        except StoreUnavailable:
            self._feed_ok = False
            raise
        self._synced_at, self._feed_ok = time.monotonic(), True

    def feed_healthy(self) -> bool:
        """Whether the revocation feed answered its last poll (always true without polls).

        False as soon as one poll fails; `verify` fails closed only once the feed has
        been silent for the staleness limit.
        """
        if self._stale_after is None:
            return True
        return self._feed_ok and time.monotonic() - self._synced_at <= self._stale_after

    def _pair(self, refresh_token: str, family: Family) -> TokenPair:
        access_token, expires_in = self.access.issue(
            family.user_id, family.id, self._clock.now(), family.expires_at, family.assurance
        )
        return TokenPair(access_token, expires_in, refresh_token, family)

    async def _reused(self, family: Family, device: Device) -> None:
        await self.events.emit(
            "refresh_reuse", user_id=family.user_id, via="jwt", handle=family.id, device=device
        )

    async def _count_revoked(self, family_ids: list[str], at: datetime) -> None:
        REVOCATIONS.labels("family").inc(len(family_ids))
        await self._families_revoked(family_ids, at)

    async def _families_revoked(self, family_ids: list[str], at: datetime) -> None:
        for family_id in family_ids:
            await self.bus.publish(Revocation("family", family_id, at, at + self.window))

    @staticmethod
    async def _every(interval: float, action: Callable[[], Awaitable[None]]) -> None:
        # A store that is down is told once, by the store's own watcher (the Redis
        # subscriber, /healthz, the 503s): a poll that fails every second says so once,
        # quietly, and once more when it works again.
        failing = False
        while True:
            await asyncio.sleep(interval)
            try:
                await action()
            except StoreUnavailable as exc:
                log.log(
                    logging.DEBUG if failing else logging.INFO,
                    "%s failed: %s store unavailable; retrying every %ss",
                    action.__name__,
                    exc.store,
                    interval,
                )
                failing = True
                continue
            except Exception:  # a poll must outlive any one bad round
                log.exception("poll failed, retrying in %ss", interval)
                continue
            if failing:
                failing = False
                log.info("%s works again", action.__name__)
