"""The records of second factors, as their stores keep them: no secret in the clear."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from authward.ids import UserId

# What the first step of a login would have answered: a session or a token pair.
LoginMode = Literal["session", "jwt"]


@dataclass(frozen=True, slots=True)
class TotpFactor:
    """A user's TOTP secret, sealed with the deployment's TOTP key.

    Off (`confirmed` False) until a first valid code; `last_step` is the newest RFC 6238
    time step accepted for the user, which no code may reach again (no replay).
    """

    user_id: UserId
    sealed_secret: bytes = field(repr=False)
    confirmed: bool
    last_step: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class RecoveryCode:
    """One recovery code of a user's current set: a salted slow hash, and whether spent."""

    user_id: UserId
    code_id: str
    code_hash: str = field(repr=False)
    used_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Challenge:
    """The half-signed-in state: the password was right, the second factor is owed.

    Only the digest of the ``mfa_token`` the client holds is kept; it grants nothing but
    the second step, once, before `expires_at`.
    """

    token_digest: bytes
    user_id: UserId
    mode: LoginMode
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class FactorStatus:
    """What `GET /auth/factors` shows."""

    totp: bool
    recovery_codes_left: int
    passkeys: tuple[Passkey, ...] = ()


PasskeyPurpose = Literal["register", "authenticate"]


@dataclass(frozen=True, slots=True)
class Passkey:
    """A WebAuthn credential of a user: its public key, never a secret.

    `id` is our public handle (routes and pages name it); `credential_id` is the
    authenticator's. `sign_count` is the authenticator's counter as last seen (0 for
    those that keep none). `backup_eligible` and `backed_up` are the BE and BS flags:
    a synced passkey (iCloud Keychain, Google Password Manager) is both.
    """

    id: str
    user_id: UserId
    credential_id: bytes
    public_key: bytes = field(repr=False)
    sign_count: int
    name: str
    transports: tuple[str, ...]
    backup_eligible: bool
    backed_up: bool
    created_at: datetime
    last_used_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class PasskeyChallenge:
    """A WebAuthn challenge handed out, by its digest: single use, for one purpose.

    A registration's is bound to the user it registers for; a sign-in's to nothing else
    (discoverable credentials: the passkey says whose it is).
    """

    digest: bytes
    purpose: PasskeyPurpose
    user_id: UserId | None
    expires_at: datetime
