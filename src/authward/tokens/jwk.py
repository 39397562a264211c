"""Key material: generation, public JWKs, RFC 7638 thumbprints, sealing at rest.

Private keys are stored sealed with AES-256-GCM under a key derived from the master
secret for this purpose only (``MasterSecret.derive("key-encryption")``). The kid and
algorithm are the associated data, so a sealed key copied onto another row no longer
opens. HS256 has no private half to store: its key is the master secret itself.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from typing import Final, TypeAlias

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from jwt.algorithms import Algorithm, get_default_algorithms

PrivateKey: TypeAlias = ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
PublicKey: TypeAlias = ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey | rsa.RSAPublicKey

ASYMMETRIC: Final = frozenset({"EdDSA", "ES256", "RS256"})
SUPPORTED: Final = ASYMMETRIC | {"HS256"}
RSA_BITS: Final = 3072  # NIST SP 800-57: 128-bit security, like Ed25519 and P-256
MIN_RSA_BITS: Final = 2048  # RFC 7518 §3.3: "a key of size 2048 bits or larger MUST be used"
_NONCE_BYTES: Final = 12

# RFC 7638 §3.2 (and RFC 8037 §2 for OKP): the required members, in lexicographic order.
_THUMBPRINT_MEMBERS: Final = {
    "OKP": ("crv", "kty", "x"),
    "EC": ("crv", "kty", "x", "y"),
    "RSA": ("e", "kty", "n"),
    "oct": ("k", "kty"),
}
_ALGORITHMS: Final[dict[str, Algorithm]] = {
    name: alg for name, alg in get_default_algorithms().items() if name in SUPPORTED
}


class KeyUnavailable(RuntimeError):
    """A stored private key does not open with this master secret (or is damaged)."""


def algorithm(alg: str) -> Algorithm:
    """The PyJWT implementation of `alg`: chosen from our key record, never from a header."""
    return _ALGORITHMS[alg]


def generate(alg: str, *, rsa_bits: int = RSA_BITS) -> PrivateKey:
    """Return a fresh private key for an asymmetric `alg`."""
    if alg == "EdDSA":
        return ed25519.Ed25519PrivateKey.generate()
    if alg == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    if alg == "RS256":
        return rsa.generate_private_key(public_exponent=65537, key_size=rsa_bits)
    raise ValueError(f"no key pair for {alg}")


def public_jwk(alg: str, private_key: PrivateKey) -> dict[str, str]:
    """The public half as a JWK holding only the members RFC 7638 requires."""
    full = algorithm(alg).to_jwk(private_key.public_key(), as_dict=True)
    return {name: str(full[name]) for name in _THUMBPRINT_MEMBERS[str(full["kty"])]}


def secret_jwk(secret: bytes) -> dict[str, str]:
    """The symmetric key as a JWK: only ever hashed into a kid, never published."""
    return {"k": _b64(secret), "kty": "oct"}


def thumbprint(jwk: dict[str, str]) -> str:
    """The RFC 7638 SHA-256 thumbprint of `jwk`, our kid."""
    members = {name: jwk[name] for name in _THUMBPRINT_MEMBERS[jwk["kty"]]}
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    return _b64(hashlib.sha256(canonical.encode()).digest())


def load_public(alg: str, jwk: dict[str, str]) -> PublicKey:
    """The public key a JWK describes; KeyUnavailable unless it suits `alg`.

    The key ring's stored keys and the keys a JWKS verifier fetches pass this one check:
    PyJWT's ``from_jwk`` takes any EC curve for ES256 and RSA keys of any size.
    """
    key = algorithm(alg).from_jwk(jwk)
    if not isinstance(key, ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey | rsa.RSAPublicKey):
        raise KeyUnavailable(f"the {alg} key is not a public key")
    if not _suits(alg, key):
        raise KeyUnavailable(f"the key does not suit {alg}")
    return key


def _suits(alg: str, key: PublicKey) -> bool:
    if alg == "EdDSA":
        return isinstance(key, ed25519.Ed25519PublicKey)
    if alg == "ES256":  # RFC 7518 §3.4: P-256 and SHA-256, nothing else
        return isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == "secp256r1"
    return alg == "RS256" and isinstance(key, rsa.RSAPublicKey) and key.key_size >= MIN_RSA_BITS


def seal(private_key: PrivateKey, kek: bytes, *, kid: str, alg: str) -> bytes:
    """Encrypt the private key for storage: nonce ‖ AES-GCM(PKCS#8 DER)."""
    der = private_key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    nonce = os.urandom(_NONCE_BYTES)
    return nonce + AESGCM(kek).encrypt(nonce, der, _aad(kid, alg))


def unseal(sealed: bytes, kek: bytes, *, kid: str, alg: str) -> PrivateKey:
    """Decrypt a sealed private key; raise KeyUnavailable if it does not open."""
    try:
        der = AESGCM(kek).decrypt(sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:], _aad(kid, alg))
        key = serialization.load_der_private_key(der, password=None)
    except Exception as exc:  # InvalidTag, malformed DER: either way it cannot sign
        raise KeyUnavailable(
            f"signing key {kid} does not open with this AUTHWARD_SECRET_KEY"
        ) from exc
    if not isinstance(
        key, ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
    ):
        raise KeyUnavailable(f"signing key {kid} is not a supported private key")
    return key


def _aad(kid: str, alg: str) -> bytes:
    return f"authward signing key\x00{alg}\x00{kid}".encode()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")
