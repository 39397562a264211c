"""Sign and verify cost of authward access tokens with PyJWT, joserfc and raw cryptography.

Tokens follow the RFC 9068 profile: header {alg, typ: "at+jwt", kid}, claims iss, aud, sub,
iat, exp, jti, sid, client_id. For each algorithm (EdDSA/Ed25519, ES256, RS256 2048-bit,
HS256 with a 32-byte key) the script times, in the same run and interleaved round by round:

* ``raw``: the cryptography (or hmac) primitive on the same signing input: no JSON, no
  base64. This is the floor.
* ``lean``: a hand-rolled path (split, ``base64.urlsafe_b64decode``, ``json.loads``, a
  pre-loaded cryptography key, claim checks). Reference only, not hardened; it shows how
  much the libraries add on top of the floor. ``lean, hardened`` adds what a production
  hand-rolled verifier needs (size cap, canonical base64url, strict JSON, exact header).
* PyJWT: ``jwt.encode`` and ``jwt.decode_complete`` (what ``jwt.decode`` calls; it also
  returns the header for the ``typ`` check) with the algorithm pinned, every claim
  required, audience and issuer checked. Three key forms: PEM (or the raw HMAC secret)
  handed over on every call, a cryptography key object, and a pre-built ``jwt.PyJWK``.
* joserfc: ``joserfc.jwt.encode`` / ``decode`` plus ``JWTClaimsRegistry.validate``, with a
  pre-imported key; once with ``algorithms=[alg]`` (builds a ``JWSRegistry`` per call) and
  once with a pre-built ``JWSRegistry``.

Every verify path checks the same things: signature, pinned alg, ``typ == "at+jwt"``, all
seven claims present, iss and aud equal to the expected values, exp in the future and iat
not in the future. Before timing, every path must verify every other path's token and
reject a tampered token, an ``alg: none`` token and a ``typ: JWT`` token.

Each figure is the median over ``--repeats`` rounds of a ``time.perf_counter_ns`` loop
(GC disabled during the loop, like ``timeit``), in µs per operation; ``--clock cpu`` uses
``time.thread_time_ns`` instead, for a machine other processes keep busy. Paths run in turn
within each round, so a ratio (or an overhead) is the median of the per-round ratios (or
differences): paired this way, it survives a noisy machine much better than the absolute
figures do.

    .venv/bin/python benchmarks/tokens.py            # full run (well under 2 minutes)
    .venv/bin/python benchmarks/tokens.py --quick    # smoke test: a few hundred iterations
    .venv/bin/python benchmarks/tokens.py --profile  # also cProfile 20k verifies
    .venv/bin/python benchmarks/tokens.py --clock cpu --format markdown  # README tables
"""

from __future__ import annotations

import argparse
import base64
import cProfile
import gc
import hashlib
import hmac
import json
import os
import platform
import pstats
import re
import secrets
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import jwt
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from joserfc import jwk as jose_jwk
from joserfc import jwt as jose_jwt
from joserfc.errors import SecurityWarning
from joserfc.jws import JWSRegistry
from jwt.algorithms import ECAlgorithm, HMACAlgorithm, OKPAlgorithm, RSAAlgorithm

ISSUER = "https://auth.example.com"
AUDIENCE = "https://api.example.com"
CLIENT_ID = AUDIENCE  # authward's default: the audience
TYP = "at+jwt"
REQUIRED_CLAIMS = ("iss", "aud", "sub", "iat", "exp", "jti", "sid", "client_id")
LIFETIME_S = 3600  # tokens must stay valid for the whole run
ALGORITHMS = ("EdDSA", "ES256", "RS256", "HS256")

# joserfc 1.8 warns "EdDSA is deprecated via RFC 9864" on every EdDSA sign and verify. A
# service would silence it; the call to warnings.warn() is still paid and still timed.
warnings.filterwarnings("ignore", category=SecurityWarning)

Op = Callable[[], object]


class Rejected(Exception):
    """A verify path refused a token."""


# --------------------------------------------------------------------------- keys, tokens


@dataclass
class KeyMaterial:
    alg: str
    kid: str
    private: Any  # cryptography private key, or the HMAC secret (bytes)
    public: Any  # cryptography public key, or the HMAC secret (bytes)
    private_pem: bytes  # PKCS#8 PEM, or the HMAC secret
    public_pem: bytes  # SubjectPublicKeyInfo PEM, or the HMAC secret
    private_jwk: dict[str, Any]
    public_jwk: dict[str, Any]


def _pem_pair(private: Any) -> tuple[bytes, bytes]:
    private_pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private_pem, public_pem


def make_keys(alg: str) -> KeyMaterial:
    kid = f"bench-{alg.lower()}-1"
    if alg == "HS256":
        secret = secrets.token_bytes(32)
        jwk_dict: dict[str, Any] = HMACAlgorithm.to_jwk(secret, as_dict=True)
        return KeyMaterial(alg, kid, secret, secret, secret, secret, jwk_dict, jwk_dict)
    private: Any
    to_jwk: Callable[..., dict[str, Any]]
    if alg == "EdDSA":
        private, to_jwk = ed25519.Ed25519PrivateKey.generate(), OKPAlgorithm.to_jwk
    elif alg == "ES256":
        private, to_jwk = ec.generate_private_key(ec.SECP256R1()), ECAlgorithm.to_jwk
    elif alg == "RS256":
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        to_jwk = RSAAlgorithm.to_jwk
    else:
        raise ValueError(alg)
    public = private.public_key()
    private_pem, public_pem = _pem_pair(private)
    return KeyMaterial(
        alg,
        kid,
        private,
        public,
        private_pem,
        public_pem,
        to_jwk(private, as_dict=True),
        to_jwk(public, as_dict=True),
    )


def make_claims() -> dict[str, Any]:
    now = int(time.time())
    return {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "acct_7Yq3kP2mXw",
        "iat": now,
        "exp": now + LIFETIME_S,
        "jti": secrets.token_urlsafe(16),
        "sid": secrets.token_urlsafe(12),
        "client_id": CLIENT_ID,
    }


def b64url(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def b64url_decode(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


# --------------------------------------------------------------------------- raw primitive


@dataclass
class Primitive:
    """The bare cryptographic operation: the floor under any JOSE library."""

    sign: Callable[[bytes], bytes]  # signing input -> signature in JOSE form
    verify: Callable[[bytes, bytes], None]  # (signing input, JOSE signature); raises
    native_sign: Op  # floor: sign a fixed input, signature left in native form
    native_verify: Op  # floor: verify a fixed native signature


def make_primitive(km: KeyMaterial, signing_input: bytes) -> Primitive:
    """Build the primitive for one algorithm; `signing_input` feeds the floor measurements."""
    if km.alg == "HS256":
        secret: bytes = km.private

        def hs_sign(msg: bytes) -> bytes:
            return hmac.new(secret, msg, hashlib.sha256).digest()

        def hs_verify(msg: bytes, sig: bytes) -> None:
            if not hmac.compare_digest(hmac.new(secret, msg, hashlib.sha256).digest(), sig):
                raise Rejected("bad MAC")

        mac = hs_sign(signing_input)
        return Primitive(
            hs_sign,
            hs_verify,
            lambda: hmac.new(secret, signing_input, hashlib.sha256).digest(),
            lambda: hs_verify(signing_input, mac),
        )

    if km.alg == "EdDSA":
        ed_private: ed25519.Ed25519PrivateKey = km.private
        ed_public: ed25519.Ed25519PublicKey = km.public
        ed_sig = ed_private.sign(signing_input)
        return Primitive(
            ed_private.sign,
            lambda msg, sig: ed_public.verify(sig, msg),
            lambda: ed_private.sign(signing_input),
            lambda: ed_public.verify(ed_sig, signing_input),
        )

    if km.alg == "ES256":
        ec_private: ec.EllipticCurvePrivateKey = km.private
        ec_public: ec.EllipticCurvePublicKey = km.public
        ecdsa = ec.ECDSA(hashes.SHA256())

        def es_sign(msg: bytes) -> bytes:  # DER -> JOSE's fixed-size R || S
            r, s = decode_dss_signature(ec_private.sign(msg, ecdsa))
            return r.to_bytes(32, "big") + s.to_bytes(32, "big")

        def es_verify(msg: bytes, sig: bytes) -> None:
            if len(sig) != 64:
                raise Rejected("bad ECDSA signature length")
            der = encode_dss_signature(
                int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big")
            )
            ec_public.verify(der, msg, ecdsa)

        der_sig = ec_private.sign(signing_input, ecdsa)
        return Primitive(
            es_sign,
            es_verify,
            lambda: ec_private.sign(signing_input, ecdsa),
            lambda: ec_public.verify(der_sig, signing_input, ecdsa),
        )

    if km.alg == "RS256":
        rsa_private: rsa.RSAPrivateKey = km.private
        rsa_public: rsa.RSAPublicKey = km.public
        pkcs1, sha256 = padding.PKCS1v15(), hashes.SHA256()
        rsa_sig = rsa_private.sign(signing_input, pkcs1, sha256)
        return Primitive(
            lambda msg: rsa_private.sign(msg, pkcs1, sha256),
            lambda msg, sig: rsa_public.verify(sig, msg, pkcs1, sha256),
            lambda: rsa_private.sign(signing_input, pkcs1, sha256),
            lambda: rsa_public.verify(rsa_sig, signing_input, pkcs1, sha256),
        )

    raise ValueError(km.alg)


# --------------------------------------------------------------------------- lean path


class LeanTokens:
    """Hand-rolled sign/verify for reference only (not hardened: base64 is decoded
    leniently, no size limits). It is the cost of doing the checks, nothing more."""

    def __init__(self, km: KeyMaterial, primitive: Primitive, leeway: int = 0) -> None:
        self.alg = km.alg
        self.primitive = primitive
        self.leeway = leeway
        header = {"alg": km.alg, "kid": km.kid, "typ": TYP}
        self.header_segment = b64url(json.dumps(header, separators=(",", ":")).encode())

    def sign(self, claims: dict[str, Any]) -> str:
        payload = b64url(json.dumps(claims, separators=(",", ":")).encode())
        signing_input = self.header_segment + b"." + payload
        return (signing_input + b"." + b64url(self.primitive.sign(signing_input))).decode()

    def verify(self, token: str) -> dict[str, Any]:
        try:
            header_b64, payload_b64, sig_b64 = token.split(".")
            header = json.loads(b64url_decode(header_b64))
            if header.get("alg") != self.alg or header.get("typ") != TYP or "crit" in header:
                raise Rejected("header")
            signing_input = token[: len(header_b64) + 1 + len(payload_b64)].encode("ascii")
            self.primitive.verify(signing_input, b64url_decode(sig_b64))
            claims = json.loads(b64url_decode(payload_b64))
        except (ValueError, InvalidSignature, AttributeError) as exc:
            raise Rejected(str(exc)) from exc
        if not isinstance(claims, dict) or any(c not in claims for c in REQUIRED_CLAIMS):
            raise Rejected("missing claim")
        aud = claims["aud"]
        if (
            claims["iss"] != ISSUER
            or claims["client_id"] != CLIENT_ID
            or not (aud == AUDIENCE or (isinstance(aud, list) and AUDIENCE in aud))
        ):
            raise Rejected("iss/aud/client_id")
        exp, iat = claims["exp"], claims["iat"]
        if type(exp) is not int or type(iat) is not int:
            raise Rejected("exp/iat type")
        now = time.time()
        if exp <= now - self.leeway or iat > now + self.leeway:
            raise Rejected("exp/iat")
        return claims


_SEGMENT = re.compile(r"[A-Za-z0-9_-]*")
_HEADER_KEYS = frozenset({"alg", "typ", "kid"})


def _unique_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("duplicate member")
    return result


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _strict_json(data: bytes) -> dict[str, Any]:
    value = json.loads(
        data.decode("utf-8"), object_pairs_hook=_unique_members, parse_constant=_no_constants
    )
    if not isinstance(value, dict):
        raise ValueError("not an object")
    return value


def _strict_b64(segment: str) -> bytes:
    """Unpadded base64url with one spelling per value (unused low bits must be zero)."""
    if _SEGMENT.fullmatch(segment) is None or len(segment) % 4 == 1:
        raise ValueError("not base64url")
    data = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    if b64url(data).decode("ascii") != segment:
        raise ValueError("non-canonical base64url")
    return data


class HardenedLeanTokens(LeanTokens):
    """The lean path plus what a production hand-rolled verifier must add (RFC 8725):
    a size cap, canonical base64url, strict JSON (no duplicate members, no NaN), a header
    of exactly alg/typ/kid, string-typed claims."""

    max_token_bytes = 4096

    def verify(self, token: str) -> dict[str, Any]:
        if len(token) > self.max_token_bytes:
            raise Rejected("too large")
        try:
            header_b64, payload_b64, sig_b64 = token.split(".")
            header = _strict_json(_strict_b64(header_b64))
            if (
                header.keys() != _HEADER_KEYS
                or header["alg"] != self.alg
                or header["typ"] != TYP
                or not isinstance(header["kid"], str)
            ):
                raise Rejected("header")
            signing_input = token[: len(header_b64) + 1 + len(payload_b64)].encode("ascii")
            self.primitive.verify(signing_input, _strict_b64(sig_b64))
            claims = _strict_json(_strict_b64(payload_b64))
        except (ValueError, InvalidSignature) as exc:
            raise Rejected(str(exc)) from exc
        if any(c not in claims for c in REQUIRED_CLAIMS):
            raise Rejected("missing claim")
        if claims["iss"] != ISSUER or claims["aud"] != AUDIENCE or claims["client_id"] != CLIENT_ID:
            raise Rejected("iss/aud/client_id")
        if not all(isinstance(claims[c], str) and claims[c] for c in ("sub", "jti", "sid")):
            raise Rejected("sub/jti/sid")
        exp, iat = claims["exp"], claims["iat"]
        if type(exp) is not int or type(iat) is not int:
            raise Rejected("exp/iat type")
        now = time.time()
        if exp <= now - self.leeway or iat > now + self.leeway:
            raise Rejected("exp/iat")
        return claims


# --------------------------------------------------------------------------- candidates


@dataclass
class Candidate:
    label: str
    library: str  # "cryptography" (floor), "hand-rolled", "PyJWT", "joserfc"
    sign: Op
    verify: Op
    verify_token: Callable[[str], dict[str, Any]]  # the same verify, on any token
    sign_token: Callable[[], str] | None  # the same sign, returning the token

    @property
    def is_library(self) -> bool:
        return self.library in ("PyJWT", "joserfc")


def _pyjwt_verifier(key: Any, alg: str) -> Callable[[str], dict[str, Any]]:
    options: Any = {"require": list(REQUIRED_CLAIMS)}
    algorithms = [alg]

    def verify(token: str) -> dict[str, Any]:
        decoded = jwt.decode_complete(
            token,
            key,
            algorithms=algorithms,
            audience=AUDIENCE,
            issuer=ISSUER,
            options=options,
        )
        if decoded["header"].get("typ") != TYP:
            raise Rejected("typ")
        payload: dict[str, Any] = decoded["payload"]
        if payload["client_id"] != CLIENT_ID:  # PyJWT knows no client_id
            raise Rejected("client_id")
        return payload

    return verify


def _pyjwt_signer(key: Any, km: KeyMaterial, claims: dict[str, Any]) -> Callable[[], str]:
    headers = {"typ": TYP, "kid": km.kid}
    alg = km.alg
    return lambda: jwt.encode(claims, key, algorithm=alg, headers=headers)


def _joserfc_claims_registry() -> jose_jwt.JWTClaimsRegistry:
    return jose_jwt.JWTClaimsRegistry(
        leeway=0,
        iss={"essential": True, "value": ISSUER},
        aud={"essential": True, "value": AUDIENCE},
        sub={"essential": True},
        iat={"essential": True},
        exp={"essential": True},
        jti={"essential": True},
        sid={"essential": True},
        client_id={"essential": True, "value": CLIENT_ID},
    )


def _joserfc_verifier(
    key: Any, alg: str, registry: JWSRegistry | None
) -> Callable[[str], dict[str, Any]]:
    claims_registry = _joserfc_claims_registry()
    algorithms = None if registry is not None else [alg]

    def verify(token: str) -> dict[str, Any]:
        tok = jose_jwt.decode(token, key, algorithms=algorithms, registry=registry)
        if tok.header.get("typ") != TYP:
            raise Rejected("typ")
        claims_registry.validate(tok.claims)
        return tok.claims

    return verify


def _joserfc_signer(
    key: Any, km: KeyMaterial, claims: dict[str, Any], registry: JWSRegistry | None
) -> Callable[[], str]:
    header = {"alg": km.alg, "typ": TYP, "kid": km.kid}
    algorithms = None if registry is not None else [km.alg]
    return lambda: jose_jwt.encode(header, claims, key, algorithms=algorithms, registry=registry)


def _joserfc_keys(km: KeyMaterial) -> tuple[Any, Any]:
    if km.alg == "HS256":
        key = jose_jwk.OctKey.import_key(km.private)
        return key, key
    cls: Any = {"EdDSA": jose_jwk.OKPKey, "ES256": jose_jwk.ECKey, "RS256": jose_jwk.RSAKey}[km.alg]
    return cls.import_key(km.private), cls.import_key(km.public)


def _bind(verify: Callable[[str], dict[str, Any]], token: str) -> Op:
    return lambda: verify(token)


def build_candidates(
    km: KeyMaterial, claims: dict[str, Any], token: str
) -> tuple[list[Candidate], LeanTokens]:
    header_b64, payload_b64, _ = token.split(".")
    signing_input = f"{header_b64}.{payload_b64}".encode()
    primitive = make_primitive(km, signing_input)
    lean = LeanTokens(km, primitive)
    hardened = HardenedLeanTokens(km, primitive)

    def cand(
        label: str,
        library: str,
        signer: Callable[[], str],
        verifier: Callable[[str], dict[str, Any]],
    ) -> Candidate:
        return Candidate(label, library, signer, _bind(verifier, token), verifier, signer)

    out: list[Candidate] = [
        Candidate(
            "raw primitive (floor)",
            "cryptography",
            primitive.native_sign,
            primitive.native_verify,
            lean.verify,  # correctness of the floor is checked through the lean path
            None,
        ),
        cand("lean hand-rolled (ref.)", "hand-rolled", lambda: lean.sign(claims), lean.verify),
        cand(
            "lean hand-rolled, hardened",
            "hand-rolled",
            lambda: hardened.sign(claims),
            hardened.verify,
        ),
    ]
    if km.alg == "HS256":
        out.append(
            cand(
                "PyJWT, bytes secret",
                "PyJWT",
                _pyjwt_signer(km.private, km, claims),
                _pyjwt_verifier(km.public, km.alg),
            )
        )
    else:
        out.append(
            cand(
                "PyJWT, PEM per call",
                "PyJWT",
                _pyjwt_signer(km.private_pem, km, claims),
                _pyjwt_verifier(km.public_pem, km.alg),
            )
        )
        out.append(
            cand(
                "PyJWT, key object",
                "PyJWT",
                _pyjwt_signer(km.private, km, claims),
                _pyjwt_verifier(km.public, km.alg),
            )
        )
    out.append(
        cand(
            "PyJWT, PyJWK",
            "PyJWT",
            _pyjwt_signer(jwt.PyJWK(km.private_jwk, km.alg), km, claims),
            _pyjwt_verifier(jwt.PyJWK(km.public_jwk, km.alg), km.alg),
        )
    )
    jose_private, jose_public = _joserfc_keys(km)
    out.append(
        cand(
            "joserfc, algorithms=[alg]",
            "joserfc",
            _joserfc_signer(jose_private, km, claims, None),
            _joserfc_verifier(jose_public, km.alg, None),
        )
    )
    registry = JWSRegistry(algorithms=[km.alg])
    out.append(
        cand(
            "joserfc, pre-built registry",
            "joserfc",
            _joserfc_signer(jose_private, km, claims, registry),
            _joserfc_verifier(jose_public, km.alg, registry),
        )
    )
    return out, lean


def check_candidates(
    candidates: list[Candidate], lean: LeanTokens, claims: dict[str, Any], token: str
) -> None:
    """Every path verifies every path's token, and rejects tampered and alg=none tokens."""
    tokens = [token] + [c.sign_token() for c in candidates if c.sign_token is not None]
    header_b64, payload_b64, sig_b64 = token.split(".")
    mid = len(sig_b64) // 2
    flipped = "A" if sig_b64[mid] != "A" else "B"
    tampered = f"{header_b64}.{payload_b64}.{sig_b64[:mid]}{flipped}{sig_b64[mid + 1 :]}"
    none_header = b64url(json.dumps({"alg": "none", "typ": TYP}).encode()).decode()
    alg_none = f"{none_header}.{payload_b64}."
    wrong_typ_header = json.loads(b64url_decode(header_b64)) | {"typ": "JWT"}
    wrong_typ = b64url(json.dumps(wrong_typ_header).encode())
    signing_input = wrong_typ + b"." + payload_b64.encode()
    typ_token = (signing_input + b"." + b64url(lean.primitive.sign(signing_input))).decode()
    for cand in candidates:
        for tok in tokens:
            got = cand.verify_token(tok)
            if got != claims:
                raise AssertionError(f"{cand.label}: wrong claims {got!r}")
        cand.verify()
        cand.sign()
        for name, bad in (("tampered", tampered), ("alg=none", alg_none), ("typ", typ_token)):
            try:
                cand.verify_token(bad)
            except Exception:  # noqa: S112 - every library has its own error type
                continue
            raise AssertionError(f"{cand.label} accepted a {name} token")


# --------------------------------------------------------------------------- timing


@dataclass
class Series:
    samples_ns: list[float] = field(default_factory=list)  # ns per op, one per round

    @property
    def median_us(self) -> float:
        return statistics.median(self.samples_ns) / 1000

    @property
    def spread_pct(self) -> float:
        """Interquartile range as a percentage of the median: the run-to-run noise."""
        if len(self.samples_ns) < 4:
            return 100 * (max(self.samples_ns) - min(self.samples_ns)) / (2 * self.median_us * 1e3)
        q1, _, q3 = statistics.quantiles(self.samples_ns, n=4)
        return 100 * (q3 - q1) / (self.median_us * 1000)


# Wall clock by default. `--clock cpu` counts only the time this thread spent on a CPU,
# which keeps other tenants' load (time slices handed to other processes) out of the
# figures; cache and frequency effects of their load remain.
CLOCKS: dict[str, Callable[[], int]] = {
    "wall": time.perf_counter_ns,
    "cpu": time.thread_time_ns,
}
clock: Callable[[], int] = time.perf_counter_ns


def time_loop(op: Op, number: int) -> float:
    """Nanoseconds per call of `op`, over `number` calls, GC paused."""
    now = clock
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        loop = range(number)
        start = now()
        for _ in loop:
            op()
        elapsed = now() - start
    finally:
        if gc_was_enabled:
            gc.enable()
    return elapsed / number


def calibrate(op: Op, target_ns: float) -> int:
    """How many calls make one timed loop last about `target_ns`."""
    number = 1
    while True:
        per_op = time_loop(op, number)
        if per_op * number >= target_ns / 10 or number >= 1 << 20:
            return max(1, int(target_ns / per_op))
        number *= 4


def quick_number(op: Op, number: int, budget_ns: float = 20e6) -> int:
    """`number` calls, fewer if one loop would outlast `budget_ns` (RSA key parsing)."""
    per_op = time_loop(op, 1)
    return max(1, min(number, int(budget_ns / per_op)))


@dataclass
class Result:
    label: str
    library: str
    sign: Series
    verify: Series


def measure(
    candidates: list[Candidate], repeats: int, target_ns: float, fixed_number: int | None
) -> list[Result]:
    tasks: list[tuple[int, str, Op]] = []
    for i, cand in enumerate(candidates):
        tasks.append((i, "sign", cand.sign))
        tasks.append((i, "verify", cand.verify))
    numbers = [
        calibrate(op, target_ns) if fixed_number is None else quick_number(op, fixed_number)
        for _, _, op in tasks
    ]
    results = [Result(c.label, c.library, Series(), Series()) for c in candidates]
    gc.collect()
    for round_no in range(repeats):
        # Rotate the order every round so no path always runs first or last.
        shift = round_no % len(tasks)
        order = list(range(len(tasks)))[shift:] + list(range(len(tasks)))[:shift]
        for t in order:
            i, kind, op = tasks[t]
            series = results[i].sign if kind == "sign" else results[i].verify
            series.samples_ns.append(time_loop(op, numbers[t]))
    return results


# --------------------------------------------------------------------------- reporting


def _fmt_us(us: float) -> str:
    return f"{us:,.1f}" if us < 100 else f"{us:,.0f}"


def _fmt_ratio(x: float) -> str:
    return f"{x:.2f}×" if x < 10 else f"{x:.1f}×"


@dataclass
class Table:
    title: str
    columns: list[str]
    rows: list[list[str]]
    notes: list[str]


def _paired_ratio(a: Series, b: Series) -> float:
    """Median of the per-round ratios a/b: rounds are interleaved, so round i of both
    paths ran under the same machine conditions and the ratio cancels most drift."""
    return statistics.median(x / y for x, y in zip(a.samples_ns, b.samples_ns, strict=True))


def _paired_excess_us(a: Series, b: Series) -> float:
    """Median of the per-round differences a - b, in µs."""
    diffs = (x - y for x, y in zip(a.samples_ns, b.samples_ns, strict=True))
    return statistics.median(diffs) / 1000


def algorithm_table(alg: str, results: list[Result]) -> Table:
    raw = next(r for r in results if r.library == "cryptography")
    libs = [r for r in results if r.library in ("PyJWT", "joserfc")]
    best_sign = min(libs, key=lambda r: r.sign.median_us)
    best_verify = min(libs, key=lambda r: r.verify.median_us)
    rows = []
    for r in results:
        rows.append(
            [
                r.label,
                _fmt_us(r.sign.median_us),
                f"±{r.sign.spread_pct:.0f}%",
                _fmt_ratio(_paired_ratio(r.sign, raw.sign)),
                _fmt_ratio(_paired_ratio(r.sign, best_sign.sign)),
                _fmt_us(r.verify.median_us),
                f"±{r.verify.spread_pct:.0f}%",
                _fmt_ratio(_paired_ratio(r.verify, raw.verify)),
                _fmt_ratio(_paired_ratio(r.verify, best_verify.verify)),
            ]
        )
    notes = [verdict(alg, "verify", results), verdict(alg, "sign", results)]
    return Table(
        f"{alg}",
        [
            "path",
            "sign µs/op",
            "IQR",
            "×raw",
            "×best lib",
            "verify µs/op",
            "IQR",
            "×raw",
            "×best lib",
        ],
        rows,
        notes,
    )


def _best(results: list[Result], library: str, kind: str) -> Result:
    return min(
        (r for r in results if r.library == library),
        key=lambda r: (r.sign if kind == "sign" else r.verify).median_us,
    )


def verdict(alg: str, kind: str, results: list[Result]) -> str:
    """Which library is faster, best variant against best variant.

    Rounds are interleaved, so round i of both paths saw the same machine state: the
    per-round ratios are paired. A winner is named only when the interquartile range of
    those ratios stays clear of 1 (by 3 %); otherwise the difference is within the noise.
    """
    pyjwt, jose = _best(results, "PyJWT", kind), _best(results, "joserfc", kind)
    a = pyjwt.sign if kind == "sign" else pyjwt.verify
    b = jose.sign if kind == "sign" else jose.verify
    ratios = [x / y for x, y in zip(a.samples_ns, b.samples_ns, strict=True)]
    mid = statistics.median(ratios)
    if len(ratios) >= 4:
        low, _, high = statistics.quantiles(ratios, n=4)
    else:
        low, high = min(ratios), max(ratios)
    detail = (
        f"PyJWT {_fmt_us(a.median_us)} µs ({pyjwt.label.removeprefix('PyJWT, ')}) vs "
        f"joserfc {_fmt_us(b.median_us)} µs ({jose.label.removeprefix('joserfc, ')}); "
        f"paired PyJWT/joserfc ratio {mid:.2f}, IQR {low:.2f}-{high:.2f}"
    )
    if low > 1.03:
        return f"{alg} {kind}: joserfc is faster, {mid:.2f}× ({detail})"
    if high < 1 / 1.03:
        return f"{alg} {kind}: PyJWT is faster, {1 / mid:.2f}× ({detail})"
    return f"{alg} {kind}: no clear winner, within noise ({detail})"


def render(table: Table, fmt: str) -> None:
    if fmt == "rich":
        from rich.console import Console
        from rich.markup import escape
        from rich.table import Table as RichTable

        rt = RichTable(title=table.title, title_justify="left")
        for i, col in enumerate(table.columns):
            rt.add_column(col, justify="left" if i == 0 else "right", no_wrap=i == 0)
        for row in table.rows:
            rt.add_row(*(escape(cell) for cell in row))
        console = Console()
        console.print(rt)
        for note in table.notes:
            console.print(f"  {note}", highlight=False, markup=False)
        console.print()
        return
    if fmt == "markdown":
        print(f"#### {table.title}\n")
        print("| " + " | ".join(table.columns) + " |")
        print("|" + "|".join(["---"] + ["---:"] * (len(table.columns) - 1)) + "|")
        for row in table.rows:
            print("| " + " | ".join(row) + " |")
        print()
        for note in table.notes:
            print(f"- {note}")
        print()
        return
    widths = [max(len(c), *(len(r[i]) for r in table.rows)) for i, c in enumerate(table.columns)]

    def line(cells: list[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = (cell.rjust(w) for cell, w in zip(cells[1:], widths[1:], strict=True))
        return "  ".join([first, *rest])

    print(table.title)
    print(line(table.columns))
    print("  ".join("-" * w for w in widths))
    for row in table.rows:
        print(line(row))
    for note in table.notes:
        print(f"  {note}")
    print()


def summary_table(all_results: dict[str, list[Result]]) -> Table:
    rows = []
    for alg, results in all_results.items():
        raw = next(r for r in results if r.library == "cryptography")
        lean = next(r for r in results if r.label == "lean hand-rolled (ref.)")
        hard = next(r for r in results if r.label == "lean hand-rolled, hardened")
        pj_v, jo_v = _best(results, "PyJWT", "verify"), _best(results, "joserfc", "verify")
        pj_s, jo_s = _best(results, "PyJWT", "sign"), _best(results, "joserfc", "sign")
        floor = raw.verify.median_us
        rows.append(
            [
                alg,
                _fmt_us(floor),
                _fmt_us(lean.verify.median_us),
                _fmt_us(hard.verify.median_us),
                _fmt_us(pj_v.verify.median_us),
                _fmt_us(jo_v.verify.median_us),
                f"+{_fmt_us(_paired_excess_us(pj_v.verify, raw.verify))}",
                f"+{_fmt_us(_paired_excess_us(jo_v.verify, raw.verify))}",
                _fmt_ratio(_paired_ratio(pj_v.verify, jo_v.verify)),
                _fmt_us(raw.sign.median_us),
                _fmt_us(pj_s.sign.median_us),
                _fmt_us(jo_s.sign.median_us),
            ]
        )
    return Table(
        "Summary (µs/op; best variant of each library; overhead = library - raw primitive)",
        [
            "alg",
            "verify raw",
            "verify lean",
            "verify lean hardened",
            "verify PyJWT",
            "verify joserfc",
            "PyJWT overhead",
            "joserfc overhead",
            "PyJWT/joserfc (paired)",
            "sign raw",
            "sign PyJWT",
            "sign joserfc",
        ],
        rows,
        [],
    )


def environment() -> list[str]:
    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        affinity = os.cpu_count() or 0
    from cryptography.hazmat.backends.openssl import backend

    load = os.getloadavg()
    return [
        f"python {platform.python_version()} ({platform.python_implementation()}), "
        f"{platform.system()} {platform.machine()}",
        f"cpus: os.cpu_count()={os.cpu_count()}, usable (nproc)={affinity}",
        "PyJWT {}, joserfc {}, cryptography {} ({})".format(
            metadata.version("PyJWT"),
            metadata.version("joserfc"),
            metadata.version("cryptography"),
            backend.openssl_version_text(),
        ),
        "load average at start: {:.2f} {:.2f} {:.2f}".format(*load),
    ]


# --------------------------------------------------------------------------- profiling


def _short(filename: str) -> str:
    """A path short enough to print: from the package directory on."""
    for marker in ("site-packages/", "lib/python"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return os.path.basename(filename)


def profile(candidates_by_alg: dict[str, list[Candidate]], count: int, top: int) -> None:
    """cProfile `count` verifies per path (EdDSA and HS256) and print the top costs."""
    for alg in ("EdDSA", "HS256"):
        for cand in candidates_by_alg[alg]:
            if cand.label not in (
                "PyJWT, key object",
                "PyJWT, bytes secret",
                "PyJWT, PyJWK",
                "joserfc, algorithms=[alg]",
            ):
                continue
            op = cand.verify
            prof = cProfile.Profile()
            prof.enable()
            for _ in range(count):
                op()
            prof.disable()
            stats = pstats.Stats(prof)
            total = stats.total_tt  # type: ignore[attr-defined]
            entries = stats.stats  # type: ignore[attr-defined]
            ranked = sorted(entries.items(), key=lambda kv: kv[1][2], reverse=True)
            print(
                f"{alg} / {cand.label}: {count} verifies, {total:.2f} s under cProfile "
                f"({1e6 * total / count:.1f} µs/verify with profiler overhead)"
            )
            print(f"  {'tottime%':>8} {'cumtime%':>8} {'calls/verify':>12}  function")
            for (filename, lineno, name), (_cc, nc, tt, ct, _callers) in ranked[:top]:
                where = f"{_short(filename)}:{lineno}({name})" if lineno else name
                print(
                    f"  {100 * tt / total:8.1f} {100 * ct / total:8.1f} {nc / count:12.1f}  {where}"
                )
            print()


def micro_costs(material: dict[str, tuple[KeyMaterial, str]], count: int) -> None:
    """Time the pieces the profiles point at, without profiler overhead."""
    from joserfc.jws import extract_compact
    from jwt.api_jws import PyJWS

    jws = PyJWS()
    rows: list[tuple[str, Op]] = []
    for alg in ("EdDSA", "HS256"):
        if alg not in material:
            continue
        km, token = material[alg]
        token_bytes = token.encode()
        payload_segment = token.split(".")[1]
        payload_bytes = payload_segment.encode()
        pyjwt_alg = jws.get_algorithm_by_name(alg)
        pyjwt_key = km.public
        rows += [
            (f"{alg}: PyJWS._load (3 segments + header JSON)", lambda t=token: jws._load(t)),
            (
                f"{alg}: joserfc extract_compact (header+payload, size checks)",
                lambda t=token_bytes: extract_compact(t),
            ),
            (
                f"{alg}: PyJWT _decode_base64url_segment(payload)",
                lambda s=payload_bytes: PyJWS._decode_base64url_segment(s, "payload"),
            ),
            (
                f"{alg}: base64.urlsafe_b64decode(payload)",
                lambda s=payload_segment: b64url_decode(s),
            ),
            (
                f"{alg}: PyJWT prepare_key(pre-loaded key), per call",
                lambda a=pyjwt_alg, k=pyjwt_key: a.prepare_key(k),
            ),
        ]
    rows += [
        (
            "joserfc JWSRegistry(algorithms=[alg]), per call",
            lambda: JWSRegistry(algorithms=["EdDSA"]),
        ),
        ("joserfc JWTClaimsRegistry.validate (8 claims)", _claims_validate_op()),
        ("PyJWT _validate_claims (8 claims)", _pyjwt_claims_op()),
    ]
    print("Micro-costs (median of 7 loops, no profiler):")
    for label, op in rows:
        samples = [time_loop(op, count) for _ in range(7)]
        print(f"  {statistics.median(samples) / 1000:8.2f} µs  {label}")
    print()


def _claims_validate_op() -> Op:
    registry, claims = _joserfc_claims_registry(), make_claims()
    return lambda: registry.validate(claims)


def _pyjwt_claims_op() -> Op:
    api = jwt.PyJWT()
    options: Any = {**api.options, "require": list(REQUIRED_CLAIMS)}
    claims = make_claims()
    return lambda: api._validate_claims(claims, options, audience=AUDIENCE, issuer=ISSUER)


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="smoke test: 3 rounds of up to 100 calls per path"
    )
    parser.add_argument("--repeats", type=int, default=15, help="timed rounds (default 15)")
    parser.add_argument(
        "--target-ms",
        type=float,
        default=40.0,
        help="length of one timed loop per path and round (default 40 ms)",
    )
    parser.add_argument(
        "--algorithms",
        nargs="+",
        choices=ALGORITHMS,
        default=list(ALGORITHMS),
        help="algorithms to run (default: all)",
    )
    parser.add_argument(
        "--format",
        choices=("rich", "plain", "markdown"),
        default="rich" if sys.stdout.isatty() else "plain",
        help="table style (default: rich on a terminal, plain otherwise)",
    )
    parser.add_argument(
        "--clock",
        choices=tuple(CLOCKS),
        default="wall",
        help="wall: time.perf_counter_ns (default); cpu: time.thread_time_ns, this thread's "
        "CPU time only, steadier when other processes compete for the cores",
    )
    parser.add_argument(
        "--profile",
        nargs="?",
        type=int,
        const=20_000,
        default=0,
        metavar="N",
        help="also cProfile N verifies (default 20000) for EdDSA and HS256",
    )
    args = parser.parse_args(argv)
    global clock
    clock = CLOCKS[args.clock]

    repeats = 3 if args.quick else args.repeats
    fixed_number = 100 if args.quick else None
    target_ns = args.target_ms * 1e6
    started = time.perf_counter()

    print("authward access-token benchmark: PyJWT vs joserfc vs raw cryptography")
    for line in environment():
        print(f"  {line}")
    mode = (
        f"quick: {repeats} rounds × up to {fixed_number} calls per path"
        if args.quick
        else f"{repeats} rounds × ~{args.target_ms:g} ms loop per path, interleaved"
    )
    mode += f"; clock: {args.clock} ({CLOCKS[args.clock].__name__})"
    print(f"  {mode}; µs/op are medians, IQR = interquartile range / median;")
    print("  ×raw, ×best lib and overheads are medians of per-round (paired) ratios/differences\n")

    all_results: dict[str, list[Result]] = {}
    candidates_by_alg: dict[str, list[Candidate]] = {}
    material: dict[str, tuple[KeyMaterial, str]] = {}
    for alg in args.algorithms:
        km = make_keys(alg)
        claims = make_claims()
        token = jwt.encode(claims, km.private, algorithm=alg, headers={"typ": TYP, "kid": km.kid})
        candidates, lean = build_candidates(km, claims, token)
        check_candidates(candidates, lean, claims, token)
        candidates_by_alg[alg] = candidates
        material[alg] = (km, token)
        results = measure(candidates, repeats, target_ns, fixed_number)
        all_results[alg] = results
        render(algorithm_table(alg, results), args.format)

    if len(all_results) > 1:
        render(summary_table(all_results), args.format)
    elapsed = time.perf_counter() - started
    load = os.getloadavg()
    print(f"benchmark time {elapsed:.1f} s; load average at end: {load[0]:.2f} {load[1]:.2f}")

    if args.profile:
        print()
        profile(candidates_by_alg, args.profile, top=14)
        micro_costs(material, 2000)
    return 0


if __name__ == "__main__":
    sys.exit(main())
