"""RFC 6238 TOTP: secrets sealed at rest, codes matched with one step of drift.

SHA-1, six digits, thirty-second steps: what every authenticator app reads from an
``otpauth://`` URI. pyotp computes the codes; which step a code matched is decided here,
because the step is what the store advances to refuse a replay.
"""

from __future__ import annotations

import base64
import hmac
import os
import secrets
from datetime import datetime
from typing import Final

import pyotp
import segno
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from authward.errors import InvalidCode
from authward.ids import UserId

STEP_SECONDS: Final = 30
DIGITS: Final = 6
DRIFT: Final = 1  # steps either side of now (RFC 6238 §5.2 recommends at most one)
SECRET_BYTES: Final = 20  # 160 bits: RFC 4226 §4's recommended length, SHA-1's output
KEY_PURPOSE: Final = "authward/totp"
_NONCE_BYTES: Final = 12


def new_secret() -> str:
    """A fresh 160-bit secret from the OS CSPRNG, base32 as authenticator apps read it."""
    return base64.b32encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def seal(secret: str, sealing_key: bytes, user_id: UserId) -> bytes:
    """Encrypt a secret for storage: nonce ‖ AES-GCM, bound to its user by the AAD."""
    nonce = os.urandom(_NONCE_BYTES)
    return nonce + AESGCM(sealing_key).encrypt(nonce, secret.encode("ascii"), _aad(user_id))


def unseal(sealed: bytes, sealing_key: bytes, user_id: UserId) -> str:
    """Decrypt a sealed secret; InvalidCode when it does not open (another key, another user).

    A secret that does not open accepts no code: failing closed is the only safe answer.
    """
    try:
        plain = AESGCM(sealing_key).decrypt(
            sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:], _aad(user_id)
        )
    except Exception:  # InvalidTag, a truncated record: either way no code can match
        raise InvalidCode from None
    return plain.decode("ascii")


def step_at(now: datetime) -> int:
    return int(now.timestamp()) // STEP_SECONDS


def matched_step(secret: str, code: str, now: datetime) -> int:
    """The time step whose code `code` is, within one step of `now`; InvalidCode otherwise.

    Every candidate is compared, in constant time, so the answer's timing does not tell
    which step matched.
    """
    code = code.strip().replace(" ", "")
    if len(code) != DIGITS or not code.isascii() or not code.isdigit():
        raise InvalidCode
    totp = pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS)
    current = step_at(now)
    found: int | None = None
    for step in range(max(0, current - DRIFT), current + DRIFT + 1):
        if hmac.compare_digest(totp.at(step * STEP_SECONDS), code):
            found = step
    if found is None:
        raise InvalidCode
    return found


def otpauth_uri(secret: str, account_name: str, issuer: str) -> str:
    """The Key URI an authenticator app scans (Google Authenticator's format)."""
    totp = pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS)
    return totp.provisioning_uri(name=account_name, issuer_name=issuer)


def qr_svg(uri: str) -> str:
    """The URI as a QR code, inline SVG (no XML declaration): nothing loaded from elsewhere."""
    return str(segno.make(uri, error="m").svg_inline(scale=4, title="TOTP QR code"))


def _aad(user_id: UserId) -> bytes:
    return f"authward totp secret\x00{user_id}".encode()
