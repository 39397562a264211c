"""Enrol, check and remove second factors; hold the half-signed-in state between steps.

A login whose password was right, for an account with a factor on, gets a challenge
instead of a session or tokens: an ``mfa_token`` (256 bits, only its digest kept, five
minutes, single use) that grants nothing but `complete`. Wrong codes are counted per
account (`MfaThrottle`), before any code is checked.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Final

from authward import crypto
from authward.clock import Clock
from authward.errors import (
    FactorExists,
    InvalidCode,
    InvalidInput,
    InvalidToken,
    NotFound,
    TooManyAttempts,
)
from authward.events import Events, Then
from authward.factors import recovery, totp
from authward.factors.models import Challenge, FactorStatus, LoginMode, RecoveryCode, TotpFactor
from authward.factors.passkeys import CredentialJson, PasskeyService
from authward.factors.recovery import RecoveryHasher
from authward.factors.store import FactorStore
from authward.ids import UserId
from authward.metrics import MFA
from authward.throttle.throttles import MfaThrottle
from authward.throttle.window import judged

__all__ = ["Completed", "Enrolment", "FactorService"]

CHALLENGE_TTL: Final = timedelta(minutes=5)
security_log = logging.getLogger("authward.security")


@dataclass(frozen=True, slots=True)
class Enrolment:
    """What a new TOTP secret is shown as, once; `repr` hides all of it."""

    secret: str = field(repr=False)
    otpauth_uri: str = field(repr=False)
    qr_svg: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class Completed:
    """A finished second step: whose login, which answer it owes, with which method."""

    user_id: UserId
    mode: LoginMode
    method: str  # "otp", "rc" or "hwk" (RFC 8176 names; "rc" is ours)
    amr: tuple[str, ...] = ()  # the second factor's methods; `(method,)` when empty

    @property
    def methods(self) -> tuple[str, ...]:
        return self.amr or (self.method,)


class FactorService:
    def __init__(
        self,
        store: FactorStore,
        sealing_key: bytes,
        throttle: MfaThrottle,
        clock: Clock,
        *,
        issuer: str,
        hasher: RecoveryHasher | None = None,
        events: Events | None = None,
        passkeys: PasskeyService | None = None,
    ) -> None:
        self.store = store
        self._sealing_key = sealing_key
        self._throttle = throttle
        self._clock = clock
        self._issuer = issuer
        self._hasher = hasher or RecoveryHasher()
        self.events = events or Events(clock)
        self.passkeys = passkeys

    async def status(self, user_id: UserId) -> FactorStatus:
        factor = await self.store.get_totp(user_id)
        on = factor is not None and factor.confirmed
        passkeys = tuple(await self.passkeys.of_user(user_id)) if self.passkeys else ()
        left = len(await self.store.unused_codes(user_id)) if on else 0
        return FactorStatus(totp=on, recovery_codes_left=left, passkeys=passkeys)

    async def required(self, user_id: UserId) -> bool:
        """Whether a password login of this user owes a second factor: TOTP is on.

        A passkey alone does not turn the second step on: it is a way to sign in by
        itself, and an account with no TOTP has no recovery codes, so a lost passkey
        would lock its owner out. With TOTP on, a passkey is one of the second factors.
        """
        factor = await self.store.get_totp(user_id)
        return factor is not None and factor.confirmed

    async def methods(self, user_id: UserId) -> list[str]:
        """The second factors a password login of this user may finish with."""
        if not await self.required(user_id):
            return []
        methods = ["totp", "recovery_code"]
        if self.passkeys is not None and await self.passkeys.of_user(user_id):
            methods.append("passkey")
        return methods

    # --- enrolment ------------------------------------------------------------------

    async def begin_totp(self, user_id: UserId, account_name: str) -> Enrolment:
        """A new, not yet active secret (replacing one not confirmed); FactorExists if on."""
        secret = totp.new_secret()
        pending = TotpFactor(
            user_id=user_id,
            sealed_secret=totp.seal(secret, self._sealing_key, user_id),
            confirmed=False,
            last_step=-1,
            created_at=self._clock.now(),
        )
        if not await self.store.put_pending_totp(pending):
            raise FactorExists
        uri = totp.otpauth_uri(secret, account_name, self._issuer)
        return Enrolment(secret=secret, otpauth_uri=uri, qr_svg=totp.qr_svg(uri))

    async def confirm_totp(self, user_id: UserId, code: str) -> list[str]:
        """Turn TOTP on with its first valid code; return the first set of recovery codes.

        InvalidCode for a wrong code (counted like a login's), FactorExists when it is on,
        NotFound when no secret is pending.
        """
        factor = await self.store.get_totp(user_id)
        if factor is None:
            raise NotFound
        if factor.confirmed:
            raise FactorExists
        attempt = await self._throttle.attempt(user_id)
        async with judged(attempt, InvalidCode):
            secret = totp.unseal(factor.sealed_secret, self._sealing_key, user_id)
            step = totp.matched_step(secret, code, self._clock.now())
            # The notice commits with the factor turned on (`Events.notices`), or neither.
            then = await self.events.notices.prepare("totp_enabled", user_id)
            if not await self.store.confirm_totp(user_id, step, then=then):
                raise InvalidCode  # confirmed meanwhile by another request, or replaced
        codes = await self._new_codes(user_id)
        await self.events.emit("totp_enabled", user_id=user_id)
        return codes

    async def disable_totp(self, user_id: UserId) -> None:
        """Turn TOTP off and void the recovery codes with it; NotFound if it was not on."""
        factor = await self.store.get_totp(user_id)
        if factor is None or not factor.confirmed:
            raise NotFound
        then = await self.events.notices.prepare("totp_disabled", user_id)
        await self.store.remove_totp(user_id, then=then)
        await self.store.remove_codes(user_id)
        await self.events.emit("totp_disabled", user_id=user_id)

    async def remove_all(self, user_id: UserId, *, then: Then | None = None) -> FactorStatus:
        """Remove every second factor of the user (passkeys too), with its recovery codes
        and any login halfway through its second step; return what was on before. No
        event: the caller (an operator's reset, an account's deletion) emits its own.
        `then` (the reset's notice) runs in the transaction that removes the TOTP factor
        and the codes, the first of the two writes."""
        before = await self.status(user_id)
        await self.store.remove_user(user_id, then=then)
        if self.passkeys is not None:
            await self.passkeys.store.remove_user(user_id)
        return before

    async def new_recovery_codes(self, user_id: UserId) -> list[str]:
        """A new set of ten; the old set is void. NotFound without a factor to recover."""
        if not await self.required(user_id):
            raise NotFound
        then = await self.events.notices.prepare("recovery_codes_generated", user_id)
        codes = await self._new_codes(user_id, then)
        await self.events.emit("recovery_codes_generated", user_id=user_id)
        return codes

    async def _new_codes(self, user_id: UserId, then: Then | None = None) -> list[str]:
        codes = recovery.new_codes()
        hashes = await self._hasher.hash_all(codes)
        records = [RecoveryCode(user_id, crypto.new_handle(), h) for h in hashes]
        await self.store.replace_codes(user_id, records, then=then)
        return codes

    # --- the second step of a login ------------------------------------------------

    async def challenge(self, user_id: UserId, mode: LoginMode) -> str:
        """Open the second step of a login; return the ``mfa_token`` the client holds."""
        token = crypto.new_token()
        now = self._clock.now()
        await self.store.add_challenge(
            Challenge(crypto.digest(token), user_id, mode, now, now + CHALLENGE_TTL)
        )
        return token

    async def complete(
        self,
        mfa_token: str,
        *,
        code: str | None = None,
        recovery_code: str | None = None,
        credential: CredentialJson | None = None,
        mode: LoginMode | None = None,
    ) -> Completed:
        """Finish the second step with a TOTP code, a recovery code or a passkey.

        InvalidToken for an unknown, expired or spent ``mfa_token`` (or one of another
        `mode` than the one given, checked before any code); TooManyAttempts past
        the account's ceiling; InvalidCode for a wrong, replayed or spent code. The token
        is spent only by success, and by one success only, however many race for it.
        """
        if not crypto.is_token_shaped(mfa_token):
            raise InvalidToken
        if sum(x is not None for x in (code, recovery_code, credential)) != 1:
            raise InvalidInput("Send exactly one of 'code', 'recovery_code' and 'credential'.")
        digest = crypto.digest(mfa_token)
        challenge = await self.store.get_challenge(digest)
        if challenge is None or challenge.expires_at <= self._clock.now():
            raise InvalidToken
        if mode is not None and challenge.mode != mode:
            raise InvalidToken
        method = "otp" if code is not None else "rc" if recovery_code is not None else "hwk"
        amr: tuple[str, ...] = ()
        try:
            attempt = await self._throttle.attempt(challenge.user_id)
        except TooManyAttempts:
            MFA.labels(method, "throttled").inc()
            raise
        try:
            async with judged(attempt, InvalidCode):
                if code is not None:
                    await self._check_totp(challenge.user_id, code)
                elif recovery_code is not None:
                    await self._spend_recovery_code(challenge.user_id, recovery_code)
                else:
                    amr = await self._check_passkey(challenge.user_id, credential or {})
        except InvalidCode:
            MFA.labels(method, "failed").inc()
            await self.events.emit("mfa_failed", user_id=challenge.user_id)
            raise
        if not await self.store.take_challenge(digest):
            raise InvalidToken  # another request finished this login first
        MFA.labels(method, "ok").inc()
        if method == "rc":
            await self.events.emit("recovery_code_used", user_id=challenge.user_id)
        return Completed(challenge.user_id, challenge.mode, method, amr)

    async def confirm(
        self, user_id: UserId, *, code: str | None = None, credential: CredentialJson | None = None
    ) -> tuple[str, ...]:
        """Check a second factor of a signed-in user again (step-up); return its methods.

        Exactly one of a TOTP `code` (never accepted twice, as at login) or a passkey
        assertion `credential` (one of this user's passkeys, for a challenge of
        `PasskeyService.authentication_options`; user verification counted as done).
        Counted like the second step of a login: TooManyAttempts past the account's
        ceiling, InvalidCode for a wrong, replayed or foreign one.
        """
        if (code is None) == (credential is None):
            raise InvalidInput("Send exactly one of 'code' and 'credential'.")
        method = "otp" if code is not None else "hwk"
        try:
            attempt = await self._throttle.attempt(user_id)
        except TooManyAttempts:
            MFA.labels(method, "throttled").inc()
            raise
        try:
            async with judged(attempt, InvalidCode):
                if code is not None:
                    await self._check_totp(user_id, code)
                    amr: tuple[str, ...] = ("otp",)
                else:
                    amr = await self._check_passkey(user_id, credential or {})
        except InvalidCode:
            MFA.labels(method, "failed").inc()
            await self.events.emit("mfa_failed", user_id=user_id)
            raise
        MFA.labels(method, "ok").inc()
        return amr

    async def _check_passkey(self, user_id: UserId, credential: CredentialJson) -> tuple[str, ...]:
        """One of this user's passkeys; UV is not required after a password (one factor
        is already proven), but counted in `amr` when the authenticator did it."""
        if self.passkeys is None:
            raise InvalidCode
        used = await self.passkeys.authenticate(credential, require_uv=False, user_id=user_id)
        return used.amr

    async def _check_totp(self, user_id: UserId, code: str) -> None:
        factor = await self.store.get_totp(user_id)
        if factor is None or not factor.confirmed:
            raise InvalidCode  # turned off since the password step
        secret = totp.unseal(factor.sealed_secret, self._sealing_key, user_id)
        step = totp.matched_step(secret, code, self._clock.now())
        # The step only ever moves forward, in one conditional write: a code (or an older
        # one) already accepted on any node is refused here. allauth's 2024 replay bug.
        if not await self.store.advance_step(user_id, step):
            security_log.warning(
                "TOTP code replayed", extra={"event": "totp_replayed", "user_id": user_id}
            )
            raise InvalidCode

    async def _spend_recovery_code(self, user_id: UserId, presented: str) -> None:
        code = recovery.normalized(presented)
        if code is None:
            raise InvalidCode
        for stored in await self.store.unused_codes(user_id):
            if await self._hasher.matches(stored.code_hash, code):
                # Of two requests with the same code, one marks it used; the other fails.
                # The notice commits with the code spent: a code used up is news to the
                # owner even should another request finish this login first.
                then = await self.events.notices.prepare("recovery_code_used", user_id)
                if await self.store.spend_code(
                    user_id, stored.code_id, self._clock.now(), then=then
                ):
                    return
                raise InvalidCode
        raise InvalidCode

    async def sweep(self) -> int:
        """Remove expired challenges: hygiene only, since `complete` checks expiry anyway."""
        return await self.store.sweep(self._clock.now())
