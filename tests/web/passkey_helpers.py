"""A software authenticator for the passkey API tests, built from Yubico's python-fido2.

python-fido2 (maintained, used by Yubico's own servers and clients) builds the binary
WebAuthn structures: client data, authenticator data, the attestation object. The key
is a P-256 key from `cryptography`; the answers are PublicKeyCredential JSON, what
``credential.toJSON()`` gives a page. The browser tests use Chromium's virtual
authenticator instead; this one lets the API tests forge what no browser would send.
"""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from fido2.cose import ES256
from fido2.webauthn import (
    AttestationObject,
    AttestedCredentialData,
    AuthenticatorData,
    CollectedClientData,
)

ORIGIN = "https://testserver"
RP_ID = "testserver"
Json = dict[str, Any]


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class SoftKey:
    """One credential on a pretend authenticator: its key, its id, its counter."""

    counter: int = 0
    uv: bool = True
    synced: bool = True
    counts: bool = False  # whether the counter moves at each use (synced passkeys: no)
    credential_id: bytes = field(default_factory=lambda: os.urandom(32))
    key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )

    def clone(self, *, new_key: bool = False) -> SoftKey:
        """The same credential id and counter; the same key, or another (a forgery)."""
        key = ec.generate_private_key(ec.SECP256R1()) if new_key else self.key
        return SoftKey(self.counter, self.uv, self.synced, self.counts, self.credential_id, key)

    def _flags(self, attested: bool) -> AuthenticatorData.FLAG:
        flags = AuthenticatorData.FLAG.UP
        if self.uv:
            flags |= AuthenticatorData.FLAG.UV
        if self.synced:
            flags |= AuthenticatorData.FLAG.BE | AuthenticatorData.FLAG.BS
        if attested:
            flags |= AuthenticatorData.FLAG.AT
        return flags

    def create(self, options: Json, *, origin: str = ORIGIN, rp_id: str = RP_ID) -> Json:
        """navigator.credentials.create()'s answer to `options`, as JSON."""
        client_data = CollectedClientData.create("webauthn.create", options["challenge"], origin)
        public = ES256.from_cryptography_key(self.key.public_key())
        attested = AttestedCredentialData.create(bytes(16), self.credential_id, public)
        rp_hash = hashlib.sha256(rp_id.encode()).digest()
        auth_data = AuthenticatorData.create(rp_hash, self._flags(True), self.counter, attested)
        attestation = AttestationObject.create("none", auth_data, {})
        return {
            "id": b64(self.credential_id),
            "rawId": b64(self.credential_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64(bytes(client_data)),
                "attestationObject": b64(bytes(attestation)),
                "transports": ["internal", "hybrid"],
            },
            "clientExtensionResults": {},
        }

    def get(
        self, options: Json, user_handle: str, *, origin: str = ORIGIN, rp_id: str = RP_ID
    ) -> Json:
        """navigator.credentials.get()'s answer to `options`, signed, as JSON."""
        if self.counts:
            self.counter += 1
        client_data = CollectedClientData.create("webauthn.get", options["challenge"], origin)
        rp_hash = hashlib.sha256(rp_id.encode()).digest()
        auth_data = AuthenticatorData.create(rp_hash, self._flags(False), self.counter)
        signed = bytes(auth_data) + hashlib.sha256(bytes(client_data)).digest()
        signature = self.key.sign(signed, ec.ECDSA(hashes.SHA256()))
        return {
            "id": b64(self.credential_id),
            "rawId": b64(self.credential_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64(bytes(client_data)),
                "authenticatorData": b64(bytes(auth_data)),
                "signature": b64(signature),
                "userHandle": b64(user_handle.encode()),
            },
            "clientExtensionResults": {},
        }
