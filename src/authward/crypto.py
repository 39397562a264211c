"""Fresh secrets and ids, their shapes, their digests at rest, and constant-time comparison.

A credential the client holds (session id, refresh token, CSRF token) is 256 bits from
the OS CSPRNG, URL-safe base64 without padding (43 characters). The server keeps only
its SHA-256 digest: the secret has full entropy, so a fast hash is as good as a slow one
and keeps the hot path cheap (OWASP Session Management Cheat Sheet).

Every id authward mints is made here, and each has its shape here: a value that comes
from a client (a path, a form, a cookie, a token's claims) is checked against the shape
before any store sees it. Nothing else ever matches a stored one, and the rest (a NUL,
which PostgreSQL refuses in text; a megabyte of anything) must not reach a query.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import uuid
from typing import Final

TOKEN_BYTES: Final = 32
TOKEN_LENGTH: Final = 43  # len(urlsafe_b64encode(32 bytes)) without padding
HANDLE_BYTES: Final = 12  # 16 characters
TOKEN_ID_BYTES: Final = 16  # 22 characters
USER_ID_MAX_LENGTH: Final = 36  # a UUID's text, and the width of every user_id column
_TOKEN_SHAPE: Final = re.compile(r"[A-Za-z0-9_-]{43}")
_HANDLE_SHAPE: Final = re.compile(r"[A-Za-z0-9_-]{16}")
_TOKEN_ID_SHAPE: Final = re.compile(r"[A-Za-z0-9_-]{22}")
# authward mints UUIDs; an id of other URL-safe characters, up to the columns' width,
# still passes, for accounts an app brought along into its own UserStore.
_USER_ID_SHAPE: Final = re.compile(rf"[A-Za-z0-9_-]{{1,{USER_ID_MAX_LENGTH}}}")


def new_token() -> str:
    """Return a new 256-bit secret as URL-safe text."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def new_handle() -> str:
    """Return a new public identifier (not a secret, but unguessable all the same).

    Session handles and token family ids (the ``sid`` claim) are handles.
    """
    return secrets.token_urlsafe(HANDLE_BYTES)


def new_token_id() -> str:
    """Return a new access token id (the ``jti`` claim)."""
    return secrets.token_urlsafe(TOKEN_ID_BYTES)


def new_user_id() -> str:
    """Return a new user id: a random UUID, as text."""
    return str(uuid.uuid4())


def is_token_shaped(value: str) -> bool:
    """Tell whether `value` could be a token of ours: checked before any store lookup."""
    return _TOKEN_SHAPE.fullmatch(value) is not None


def is_handle_shaped(value: str) -> bool:
    """Tell whether `value` could be a handle or family id of ours (see `new_handle`)."""
    return _HANDLE_SHAPE.fullmatch(value) is not None


def is_token_id_shaped(value: str) -> bool:
    """Tell whether `value` could be an access token id of ours (see `new_token_id`)."""
    return _TOKEN_ID_SHAPE.fullmatch(value) is not None


def is_user_id_shaped(value: str) -> bool:
    """Tell whether `value` could be a user id (see `new_user_id`)."""
    return _USER_ID_SHAPE.fullmatch(value) is not None


def digest(secret: str) -> bytes:
    """Return the digest under which a secret is stored and looked up."""
    return hashlib.sha256(secret.encode("ascii", "replace")).digest()


def same(a: str | bytes, b: str | bytes) -> bool:
    """Compare two secrets in constant time."""
    left = a.encode() if isinstance(a, str) else a
    right = b.encode() if isinstance(b, str) else b
    return hmac.compare_digest(left, right)
