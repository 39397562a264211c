"""CSRF tokens derived from what they protect: an HMAC of its id, never stored.

A session and a token family each have one: the store never holds it, it changes with
the id it is bound to, and one id's token is worth nothing for another (an attacker's
own login included).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging

from authward import crypto
from authward.errors import CsrfRejected

security_log = logging.getLogger("authward.security")


class DerivedCsrf:
    """CSRF tokens of ids under one key (a session's, a token family's)."""

    __slots__ = ("_key",)

    def __init__(self, key: bytes) -> None:
        self._key = key

    def token(self, bound_to: str) -> str:
        mac = hmac.new(self._key, bound_to.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()

    def check(self, bound_to: str, presented: str | None) -> None:
        """Raise CsrfRejected unless `presented` is the token of `bound_to`."""
        if not presented or not crypto.same(presented, self.token(bound_to)):
            security_log.warning("csrf token rejected", extra={"event": "csrf_rejected"})
            raise CsrfRejected
