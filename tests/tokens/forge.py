"""Turn an attack vector (a JSON file in ``vectors/``) into a token to present.

A vector starts from a valid token of the service under test and describes what the
attacker changes. Its keys (all optional but ``name`` and ``reference``):

``header`` / ``claims``
    members to set; ``null`` removes one. A value may be a directive:
    ``{"$now": n}`` the current time plus n seconds; ``{"$alg": "lower" | "upper"}`` the
    real algorithm's name so changed; ``{"$kid": "real" | "attacker"}``;
    ``{"$jwk": "attacker"}`` the attacker's public JWK; ``{"$repeat": [text, n]}``;
    ``{"$null": true}`` a JSON null.
``raw_header`` / ``raw_claims``
    the segment's JSON text instead, with ``$ALG``, ``$KID`` and ``$BODY`` (the valid
    claims' members, without braces) replaced.
``nest``
    ``{"where": "header" | "claims", "depth": n}``: add a member nested n arrays deep.
``signature``
    ``key`` (the real key: only the validation can refuse it; the default),
    ``keep`` (the original token's: the content was tampered with after signing),
    ``empty``, ``flip`` (one bit), ``truncate``, ``attacker`` (a key of the attacker's
    own), ``hmac-public-pem`` / ``hmac-public-der`` / ``hmac-public-jwk`` (HMAC-SHA256
    keyed with the server's public key: the RS/HS confusion of CVE-2015-9235 and
    CVE-2022-29217).
``segments``
    ``{"header" | "payload" | "signature": text}``: that base64url segment, verbatim
    (``null``: the segment and its dot left out).
``noncanonical``
    a segment whose last character gets set unused bits (same bytes, other spelling).
``suffix`` / ``token``
    text appended to the token / the whole token, verbatim.
``algorithms``
    the algorithms the vector applies to (default: all four).
``advance``
    seconds the clock moves before the token is presented.
``expect``
    ``invalid`` (the default) or ``valid`` (a control: proves the forge is sound).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization

from authward.clock import FrozenClock
from authward.tokens import jwk
from authward.tokens.service import TokenService

VECTORS = Path(__file__).with_name("vectors")
_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


@dataclass(frozen=True)
class Vector:
    name: str
    reference: str
    spec: dict[str, Any]

    @property
    def expect_valid(self) -> bool:
        return bool(self.spec.get("expect", "invalid") == "valid")

    def applies_to(self, alg: str) -> bool:
        return alg in self.spec.get("algorithms", ["EdDSA", "ES256", "RS256", "HS256"])


def load_vectors() -> list[Vector]:
    vectors = []
    for path in sorted(VECTORS.glob("*.json")):
        spec = json.loads(path.read_text(encoding="utf-8"))
        vectors.append(Vector(spec["name"], spec["reference"], spec))
    return vectors


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


class Attacker:
    """Holds the attacker's own key of each algorithm and forges tokens from vectors."""

    def __init__(self, service: TokenService, clock: FrozenClock) -> None:
        self._service = service
        self._clock = clock
        signing = service.ring.signing_key()
        self.alg, self.kid, self._material = signing.alg, signing.kid, signing.material
        self._own: dict[str, jwk.PrivateKey | bytes] = {}

    def forge(self, vector: Vector, valid_token: str) -> str:
        spec = vector.spec
        if "token" in spec:
            return str(spec["token"])
        header_seg, payload_seg, signature_seg = valid_token.split(".")
        claims = json.loads(unb64(payload_seg))
        header = {"alg": self.alg, "typ": "at+jwt", "kid": self.kid}
        sign_alg = self._apply(header, spec.get("header", {}))
        self._apply(claims, spec.get("claims", {}))
        header_text = self._raw(spec.get("raw_header"), claims) or json.dumps(header)
        claims_text = self._raw(spec.get("raw_claims"), claims) or json.dumps(claims)
        nest = spec.get("nest")
        if nest is not None:
            deep = ', "deep": ' + "[" * nest["depth"] + "]" * nest["depth"] + "}"
            if nest["where"] == "header":
                header_text = header_text.rstrip()[:-1] + deep
            else:
                claims_text = claims_text.rstrip()[:-1] + deep
        segments: dict[str, str | None] = {
            "header": b64(header_text.encode()),
            "payload": b64(claims_text.encode()),
        }
        signing_input = f"{segments['header']}.{segments['payload']}".encode()
        segments["signature"] = self._sign(
            spec.get("signature", "key"), signing_input, signature_seg, sign_alg
        )
        segments.update(spec.get("segments", {}))
        if (which := spec.get("noncanonical")) is not None:
            segments[which] = _noncanonical(str(segments[which]))
        parts = [segments[name] for name in ("header", "payload", "signature")]
        return ".".join(part for part in parts if part is not None) + str(spec.get("suffix", ""))

    def _apply(self, target: dict[str, Any], changes: dict[str, Any]) -> str:
        """Apply member changes; return the algorithm an attacker's key should sign with."""
        for name, value in changes.items():
            if value is None:
                target.pop(name, None)
            else:
                target[name] = self._expand(value)
        alg = target.get("alg")
        return alg if alg in jwk.SUPPORTED else self.alg

    def _expand(self, value: Any) -> Any:
        if not isinstance(value, dict) or len(value) != 1 or not next(iter(value)).startswith("$"):
            return value
        ((directive, argument),) = value.items()
        if directive == "$null":
            return None
        if directive == "$now":
            return int(self._clock.now().timestamp()) + argument
        if directive == "$alg":
            return self.alg.lower() if argument == "lower" else self.alg.upper()
        if directive == "$kid":
            return self.kid if argument == "real" else self._attacker_kid(self.alg)
        if directive == "$jwk":
            return self._attacker_jwk(self.alg)
        if directive == "$repeat":
            return argument[0] * argument[1]
        raise ValueError(f"unknown directive {directive}")

    def _raw(self, template: str | None, claims: dict[str, Any]) -> str | None:
        if template is None:
            return None
        body = json.dumps(claims)[1:-1]
        return template.replace("$ALG", self.alg).replace("$KID", self.kid).replace("$BODY", body)

    def _sign(self, mode: str, signing_input: bytes, original: str, sign_alg: str) -> str:
        if mode == "keep":
            return original
        if mode == "empty":
            return ""
        if mode in {"key", "flip", "truncate"}:
            signature = jwk.algorithm(self.alg).sign(signing_input, self._material)
            if mode == "flip":
                signature = bytes([signature[0] ^ 1]) + signature[1:]
            elif mode == "truncate":
                signature = signature[:-1]
            return b64(signature)
        if mode == "attacker":
            return b64(jwk.algorithm(sign_alg).sign(signing_input, self._own_key(sign_alg)))
        if mode.startswith("hmac-public-"):
            secret = self._public_bytes(mode.removeprefix("hmac-public-"))
            return b64(hmac.new(secret, signing_input, hashlib.sha256).digest())
        raise ValueError(f"unknown signature mode {mode}")

    def _public_bytes(self, form: str) -> bytes:
        if form == "jwk":
            published = self._service.jwks()["keys"]
            assert isinstance(published, list)
            return json.dumps(published[0]).encode()
        assert not isinstance(self._material, bytes)
        public = self._material.public_key()
        encoding = serialization.Encoding.PEM if form == "pem" else serialization.Encoding.DER
        return public.public_bytes(encoding, serialization.PublicFormat.SubjectPublicKeyInfo)

    def _own_key(self, alg: str) -> jwk.PrivateKey | bytes:
        if alg not in self._own:
            self._own[alg] = (
                b"attacker-" * 4 if alg == "HS256" else jwk.generate(alg, rsa_bits=2048)
            )
        return self._own[alg]

    def _attacker_jwk(self, alg: str) -> dict[str, str]:
        key = self._own_key(alg)
        return jwk.secret_jwk(key) if isinstance(key, bytes) else jwk.public_jwk(alg, key)

    def _attacker_kid(self, alg: str) -> str:
        return jwk.thumbprint(self._attacker_jwk(alg))


def _noncanonical(segment: str) -> str:
    """The same bytes spelt differently: set an unused low bit of the last character."""
    unused_bits = {2: 4, 3: 2}[len(segment) % 4]  # 1 or 2 trailing bytes
    last = _B64.index(segment[-1])
    assert last & ((1 << unused_bits) - 1) == 0
    return segment[:-1] + _B64[last | 1]
