"""Fresh secrets, their digests at rest, and constant-time comparison.

A credential the client holds (session id, refresh token, CSRF token) is 256 bits from
the OS CSPRNG, URL-safe base64 without padding (43 characters). The server keeps only
its SHA-256 digest: the secret has full entropy, so a fast hash is as good as a slow one
and keeps the hot path cheap (OWASP Session Management Cheat Sheet).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from typing import Final

TOKEN_BYTES: Final = 32
TOKEN_LENGTH: Final = 43  # len(urlsafe_b64encode(32 bytes)) without padding
_TOKEN_SHAPE: Final = re.compile(r"[A-Za-z0-9_-]{43}")


def new_token() -> str:
    """Return a new 256-bit secret as URL-safe text."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def new_handle() -> str:
    """Return a new public identifier (not a secret, but unguessable all the same)."""
    return secrets.token_urlsafe(12)


def is_token_shaped(value: str) -> bool:
    """Tell whether `value` could be a token of ours: checked before any store lookup."""
    return _TOKEN_SHAPE.fullmatch(value) is not None


def digest(secret: str) -> bytes:
    """Return the digest under which a secret is stored and looked up."""
    return hashlib.sha256(secret.encode("ascii", "replace")).digest()


def same(a: str | bytes, b: str | bytes) -> bool:
    """Compare two secrets in constant time."""
    left = a.encode() if isinstance(a, str) else a
    right = b.encode() if isinstance(b, str) else b
    return hmac.compare_digest(left, right)
