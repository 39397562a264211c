"""The records of the JWT strategy, as the rest of authward sees them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from authward.assurance import Assurance
from authward.ids import Device, UserId

KeyState = Literal["active", "retired", "expired"]


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """What `authward keys list` shows of a signing key: never any key material.

    ``active`` signs; ``retired`` no longer signs but still verifies until
    `verifies_until`; ``expired`` verifies nothing any more and is dropped by the sweep.
    """

    kid: str
    alg: str
    state: KeyState
    created_at: datetime
    retired_at: datetime | None
    verifies_until: datetime | None  # None while active


@dataclass(frozen=True, slots=True)
class Family:
    """One login on one device: the chain of refresh tokens it has been through.

    `id` is public (the ``sid`` claim of its access tokens, the handle in device lists);
    the tokens themselves are never stored, only the digest of the current one and of
    those already spent. `expires_at` is `created_at` plus the refresh TTL and never
    slides; `device` is where the newest refresh came from.
    """

    id: str
    user_id: UserId
    created_at: datetime
    expires_at: datetime
    last_seen_at: datetime
    device: Device
    revoked_at: datetime | None = None
    # How the login that started the family authenticated: every refresh keeps it.
    auth_time: datetime | None = None  # None: a family older than the column, created_at
    amr: tuple[str, ...] = ("pwd",)

    @property
    def assurance(self) -> Assurance:
        return Assurance(self.auth_time or self.created_at, self.amr)

    def live(self, now: datetime) -> bool:
        return self.revoked_at is None and now < self.expires_at


@dataclass(frozen=True, slots=True)
class AccessClaims:
    """The claims of a verified access token (RFC 9068 §2.2).

    `client_id` is the client the token was issued to (AUTHWARD_CLIENT_ID). `auth_time`,
    `amr` and `acr` (RFC 9068 §2.2.1) say how the login authenticated; a token issued
    before they were carried has None, () and None.
    """

    sub: str
    sid: str
    jti: str
    iat: datetime
    exp: datetime
    kid: str
    client_id: str
    auth_time: datetime | None = None
    amr: tuple[str, ...] = ()
    acr: str | None = None

    @property
    def user_id(self) -> UserId:
        return self.sub
