"""Passkeys (WebAuthn Level 3): register several per account, sign in with one.

The ceremonies are the ``webauthn`` package's; this module decides what is asked for and
what is kept:

* registration asks for a discoverable credential (``residentKey: required``), so the
  same passkey can later sign in with no email typed; ``excludeCredentials`` lists the
  user's passkeys, so one authenticator is not registered twice;
* every challenge is 32 bytes from the OS CSPRNG, kept as its SHA-256 in the store every
  node reads, for five minutes, for one purpose (a registration for one user, or a
  sign-in), and taken by the first answer that names it, right or wrong: single use;
* a signature counter of 0 is accepted (synced passkeys keep none); a non-zero counter
  that does not move forward is refused (a cloned authenticator), and the stored counter
  moves only from the value the signature was checked against (compare and set);
* the backup flags (BE, BS) are kept and shown, the BS flag refreshed at each use;
* an account holds at most `MAX_PASSKEYS`, counted by the store in the step that keeps a
  new one, and every challenge handed out to a client address is counted first
  (`ChallengeThrottle`), so no client can fill the store with challenges.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import timedelta
from typing import Final
from urllib.parse import urlsplit

import anyio.to_thread
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import (
    parse_authentication_credential_json,
    parse_client_data_json,
    parse_registration_credential_json,
)
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AttestationConveyancePreference,
    AuthenticationCredential,
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    CredentialDeviceType,
    PublicKeyCredentialDescriptor,
    RegistrationCredential,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from authward import crypto
from authward.clock import Clock
from authward.errors import FactorExists, InvalidCode, InvalidInput, NotFound, TooManyPasskeys
from authward.events import Events
from authward.factors.models import Passkey, PasskeyChallenge, PasskeyPurpose
from authward.factors.passkey_store import PasskeyStore
from authward.ids import UserId
from authward.throttle.throttles import ChallengeThrottle

__all__ = ["PasskeyService", "PasskeyUse", "RelyingParty"]

CHALLENGE_BYTES: Final = 32  # 256 bits; WebAuthn asks for at least 16
CHALLENGE_TTL: Final = timedelta(minutes=5)
# Passkeys one account may hold: more than anyone keeps (a phone, a laptop, a few
# security keys and their spares), few enough that excludeCredentials stays small.
MAX_PASSKEYS: Final = 20
MAX_NAME: Final = 64
# RFC 8176 names: "hwk", proof of possession of a key kept by an authenticator, and
# "user", the authenticator's own check of its user (PIN or biometric: the UV flag).
POSSESSION: Final = "hwk"
USER_VERIFIED: Final = "user"
security_log = logging.getLogger("authward.security")

CredentialJson = dict[str, object]


@dataclass(frozen=True, slots=True)
class RelyingParty:
    """Who passkeys are made for: the RP id (a domain) and the origin pages run on."""

    id: str
    name: str
    origin: str

    @classmethod
    def of(cls, public_url: str, rp_id: str | None, name: str) -> RelyingParty:
        """The RP of a deployment reached at `public_url`; `rp_id` defaults to its host."""
        parts = urlsplit(public_url)
        origin = f"{parts.scheme}://{parts.netloc}"
        return cls(id=rp_id or parts.hostname or "", name=name, origin=origin)


@dataclass(frozen=True, slots=True)
class PasskeyUse:
    """A verified assertion: whose passkey, and whether its user was verified (UV)."""

    passkey: Passkey
    user_verified: bool

    @property
    def amr(self) -> tuple[str, ...]:
        """RFC 8176 methods: with UV, the passkey alone is two factors."""
        return (POSSESSION, USER_VERIFIED) if self.user_verified else (POSSESSION,)


class PasskeyService:
    def __init__(
        self,
        store: PasskeyStore,
        party: RelyingParty,
        clock: Clock,
        events: Events | None = None,
        *,
        throttle: ChallengeThrottle | None = None,
        max_passkeys: int = MAX_PASSKEYS,
    ) -> None:
        self.store = store
        self.party = party
        self._clock = clock
        self.events = events or Events(clock)
        self.max_passkeys = max_passkeys
        self._throttle = throttle

    async def of_user(self, user_id: UserId) -> list[Passkey]:
        return await self.store.of_user(user_id)

    # --- registration ---------------------------------------------------------------

    async def registration_options(
        self, user_id: UserId, email: str, *, address: str | None = None
    ) -> str:
        """`PublicKeyCredentialCreationOptions` as JSON, for a new passkey of this user.

        TooManyAttempts when `address` has had its challenges; TooManyPasskeys when the
        user holds the most there may be (no challenge is kept for a passkey that could
        not be registered). Without `address` (a script, not a request) nothing is counted.
        """
        await self._count(address)
        existing = await self.store.of_user(user_id)
        if len(existing) >= self.max_passkeys:
            raise TooManyPasskeys
        challenge = await self._new_challenge("register", user_id)
        options = generate_registration_options(
            rp_id=self.party.id,
            rp_name=self.party.name,
            user_name=email,
            user_id=user_handle(user_id),
            user_display_name=email,
            challenge=challenge,
            timeout=int(CHALLENGE_TTL.total_seconds() * 1000),
            attestation=AttestationConveyancePreference.NONE,
            authenticator_selection=AuthenticatorSelectionCriteria(
                resident_key=ResidentKeyRequirement.REQUIRED,
                user_verification=UserVerificationRequirement.PREFERRED,
            ),
            exclude_credentials=[
                PublicKeyCredentialDescriptor(id=p.credential_id) for p in existing
            ],
        )
        return options_to_json(options)

    async def register(self, user_id: UserId, credential: CredentialJson, name: str) -> Passkey:
        """Verify a new credential against this user's registration challenge and keep it.

        InvalidInput for a bad name, or a credential that does not verify (an unknown,
        spent or expired challenge, another user's, another origin's); FactorExists for a
        credential registered already; TooManyPasskeys when the user holds the most there
        may be (counted by the store as it keeps the passkey: registrations racing at the
        cap less one keep one passkey).
        """
        label = _clean_name(name)
        parsed = _parse_registration(credential)
        expected = await self._take_challenge(parsed.response.client_data_json, "register")
        if expected is None or expected[1] is None or not crypto.same(expected[1], user_id):
            raise InvalidInput("The passkey could not be verified: please try again.")
        try:
            verified = await anyio.to_thread.run_sync(
                lambda: verify_registration_response(
                    credential=parsed,
                    expected_challenge=expected[0],
                    expected_rp_id=self.party.id,
                    expected_origin=self.party.origin,
                )
            )
        except WebAuthnException:
            raise InvalidInput("The passkey could not be verified: please try again.") from None
        transports = tuple(t.value for t in parsed.response.transports or ())
        passkey = Passkey(
            id=crypto.new_handle(),
            user_id=user_id,
            credential_id=verified.credential_id,
            public_key=verified.credential_public_key,
            sign_count=verified.sign_count,
            name=label,
            transports=transports,
            backup_eligible=verified.credential_device_type == CredentialDeviceType.MULTI_DEVICE,
            backed_up=verified.credential_backed_up,
            created_at=self._clock.now(),
        )
        then = await self.events.notices.prepare("passkey_added", user_id)
        if not await self.store.add(passkey, limit=self.max_passkeys, then=then):
            raise FactorExists
        await self.events.emit("passkey_added", user_id=user_id, handle=passkey.id)
        return passkey

    async def remove(self, user_id: UserId, passkey_id: str) -> None:
        """Remove one of the user's passkeys; NotFound for anyone else's or none."""
        then = await self.events.notices.prepare("passkey_removed", user_id)
        if not await self.store.remove(user_id, passkey_id, then=then):
            raise NotFound
        await self.events.emit("passkey_removed", user_id=user_id, handle=passkey_id)

    # --- sign-in --------------------------------------------------------------------

    async def authentication_options(
        self, *, address: str | None = None, user_id: UserId | None = None
    ) -> str:
        """`PublicKeyCredentialRequestOptions` as JSON: no credentials listed (discoverable).

        With `user_id` (a step-up: the caller is known), that user's passkeys are listed,
        so a device holding passkeys of several accounts offers only theirs, and the
        challenge is theirs alone: `authenticate` refuses it with anyone else's passkey.
        NotFound when they hold none. TooManyAttempts when `address` has had its
        challenges (counted before one is kept).
        """
        await self._count(address)
        allowed: list[PublicKeyCredentialDescriptor] | None = None
        if user_id is not None:
            held = await self.store.of_user(user_id)
            if not held:
                raise NotFound
            allowed = [_descriptor(passkey) for passkey in held]
        challenge = await self._new_challenge("authenticate", user_id)
        options = generate_authentication_options(
            rp_id=self.party.id,
            challenge=challenge,
            timeout=int(CHALLENGE_TTL.total_seconds() * 1000),
            allow_credentials=allowed,
            user_verification=UserVerificationRequirement.REQUIRED,
        )
        return options_to_json(options)

    async def authenticate(
        self, credential: CredentialJson, *, require_uv: bool, user_id: UserId | None = None
    ) -> PasskeyUse:
        """Verify an assertion; with `user_id`, only that user's passkeys count.

        InvalidCode for anything that does not verify: an unknown passkey, a spent,
        expired or foreign challenge, a wrong signature, no UV where it is required, a
        counter that did not move forward (a cloned authenticator).
        """
        parsed = _parse_assertion(credential)
        expected = await self._take_challenge(parsed.response.client_data_json, "authenticate")
        if expected is None:
            raise InvalidCode
        passkey = await self.store.by_credential(parsed.raw_id)
        if passkey is None or user_id not in (None, passkey.user_id):
            raise InvalidCode
        if expected[1] not in (None, passkey.user_id):  # a challenge made for someone else
            raise InvalidCode
        handle = parsed.response.user_handle
        if handle is not None and not hmac.compare_digest(handle, user_handle(passkey.user_id)):
            raise InvalidCode
        try:
            verified = await anyio.to_thread.run_sync(
                lambda: verify_authentication_response(
                    credential=parsed,
                    expected_challenge=expected[0],
                    expected_rp_id=self.party.id,
                    expected_origin=self.party.origin,
                    credential_public_key=passkey.public_key,
                    credential_current_sign_count=passkey.sign_count,
                    require_user_verification=require_uv,
                )
            )
        except WebAuthnException as exc:
            if "sign count" in str(exc):
                self._cloned(passkey)
            raise InvalidCode from None
        now = self._clock.now()
        if not await self.store.record_use(
            passkey.id,
            passkey.sign_count,
            verified.new_sign_count,
            verified.credential_backed_up,
            now,
        ):
            self._cloned(passkey)
            raise InvalidCode
        return PasskeyUse(passkey, verified.user_verified)

    async def sweep(self) -> int:
        """Remove expired challenges: hygiene only, since a taken one's expiry is checked."""
        return await self.store.sweep(self._clock.now())

    # --- challenges -----------------------------------------------------------------

    async def _count(self, address: str | None) -> None:
        """Count one challenge for `address` before it exists: the store holds at most the
        throttle's ceiling of live challenges per address (they expire within the window,
        and the sweep removes them)."""
        if self._throttle is not None and address is not None:
            await self._throttle.attempt(address)

    async def _new_challenge(self, purpose: PasskeyPurpose, user_id: UserId | None) -> bytes:
        challenge = secrets.token_bytes(CHALLENGE_BYTES)
        expires_at = self._clock.now() + CHALLENGE_TTL
        await self.store.add_challenge(
            PasskeyChallenge(_digest(challenge), purpose, user_id, expires_at)
        )
        return challenge

    async def _take_challenge(
        self, client_data_json: bytes, purpose: PasskeyPurpose
    ) -> tuple[bytes, UserId | None] | None:
        """The challenge the client data names and its user, taken (spent) from the store;
        None when it is unknown, spent, expired or of another purpose."""
        try:
            challenge = parse_client_data_json(client_data_json).challenge
        except (WebAuthnException, ValueError, TypeError):
            return None
        if not 16 <= len(challenge) <= 64:
            return None
        taken = await self.store.take_challenge(_digest(challenge))
        if taken is None or taken.purpose != purpose or taken.expires_at <= self._clock.now():
            return None
        return challenge, taken.user_id

    def _cloned(self, passkey: Passkey) -> None:
        security_log.warning(
            "passkey signature counter did not move forward: possibly a cloned authenticator",
            extra={"event": "passkey_counter", "user_id": passkey.user_id, "handle": passkey.id},
        )


def _descriptor(passkey: Passkey) -> PublicKeyCredentialDescriptor:
    transports = []
    for name in passkey.transports:
        with contextlib.suppress(ValueError):  # one this library does not know: left out
            transports.append(AuthenticatorTransport(name))
    return PublicKeyCredentialDescriptor(id=passkey.credential_id, transports=transports)


def user_handle(user_id: UserId) -> bytes:
    """The WebAuthn user handle of a user: the opaque account id, never the email."""
    return user_id.encode("ascii")


def _digest(challenge: bytes) -> bytes:
    return hashlib.sha256(challenge).digest()


def _clean_name(name: str) -> str:
    label = unicodedata.normalize("NFC", name).strip()
    if not label or len(label) > MAX_NAME:
        raise InvalidInput(f"Give the passkey a name of 1 to {MAX_NAME} characters.")
    if any(unicodedata.category(c).startswith("C") for c in label):
        raise InvalidInput("A passkey's name cannot hold control characters.")
    return label


def _parse_registration(credential: CredentialJson) -> RegistrationCredential:
    try:
        return parse_registration_credential_json(credential)
    except (WebAuthnException, ValueError, TypeError, KeyError, AttributeError):
        raise InvalidInput("That is not a WebAuthn registration credential.") from None


def _parse_assertion(credential: CredentialJson) -> AuthenticationCredential:
    try:
        return parse_authentication_credential_json(credential)
    except (WebAuthnException, ValueError, TypeError, KeyError, AttributeError):
        raise InvalidCode from None
