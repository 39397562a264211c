"""A mail's body at rest: sealed with AES-256-GCM until it is sent, then erased.

A queued mail holds a live link (a reset or verification token): whoever reads the
outbox table could use it. The body is sealed with a key derived from the master secret
for this purpose only (``master.derive("authward/mail")``), as the signing keys are
(`authward.tokens.jwk`), and bound to its row's id (the associated data): a body copied
into another row does not open.
"""

from __future__ import annotations

import json
import secrets
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from authward.mail.message import Rendered

KEY_PURPOSE: Final = "authward/mail"
_NONCE_BYTES: Final = 12


class BodySeal:
    """Seal and open mail bodies with one key."""

    __slots__ = ("_aead",)

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    def seal(self, mail_id: str, body: Rendered) -> bytes:
        plain = json.dumps({"subject": body.subject, "text": body.text, "html": body.html})
        nonce = secrets.token_bytes(_NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, plain.encode(), _aad(mail_id))

    def open(self, mail_id: str, sealed: bytes) -> Rendered:
        """Return the body, or raise `ValueError` if it was not sealed for `mail_id` with
        this key (another deployment's secret, a row tampered with)."""
        try:
            plain = self._aead.decrypt(sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:], _aad(mail_id))
        except InvalidTag:
            raise ValueError("the mail body does not open with this key") from None
        fields = json.loads(plain)
        return Rendered(subject=fields["subject"], text=fields["text"], html=fields["html"])


def _aad(mail_id: str) -> bytes:
    return b"authward-mail:" + mail_id.encode()
