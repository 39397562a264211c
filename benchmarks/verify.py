"""Target 2: a first-seen token verifies no slower than the fastest JOSE library.

For each algorithm, authward's `TokenService` (memory stores) issues a token; PyJWT,
joserfc, the hand-rolled paths and the raw primitive of `benchmarks/tokens.py` get the
very same key (same kid, same claims, same issuer and audience), so every path checks
the same token the same way. Before timing, authward must accept the token each other
path signs, and every path must accept authward's token.

authward is timed twice: "first seen" empties the cache of verified tokens before each
call (a ``dict.clear`` of one entry, included in the figure), so each call parses,
checks the signature and the claims, and consults the revocation list; "seen before"
is the cache hit a repeated token gets. Everything runs in one process, interleaved
round by round with `tokens.measure` on this thread's CPU clock (time slices the machine
gives other processes stay out), so the ratios are paired.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, HMACAlgorithm, OKPAlgorithm, RSAAlgorithm
from pydantic import SecretStr

import tokens as peer
from authward import crypto
from authward.clock import SystemClock
from authward.masterkey import MasterSecret
from authward.runtime import build_tokens
from authward.settings import Settings
from authward.tokens.service import TokenService

ALGORITHMS = ("EdDSA", "ES256", "RS256", "HS256")
SECRET = "bench-" + "k3Y9vQ2xLm8RzT4wNp7JcF5hGd6sBa1E"  # HS256 key: 38 bytes, for this run


@dataclass
class VerifyRow:
    alg: str
    raw_us: float  # the bare signature check: the floor
    first_seen_us: float
    seen_before_us: float
    pyjwt_us: float  # the best PyJWT variant
    joserfc_us: float  # the best joserfc variant
    fastest_library: str
    ratio_to_fastest: float  # paired median: authward first seen / fastest library

    @property
    def met(self) -> bool:
        return self.ratio_to_fastest <= 1.0


async def open_service(alg: str) -> TokenService:
    settings = Settings(
        jwt_alg=alg,
        secret_key=SecretStr(SECRET),
        issuer=peer.ISSUER,
        audience=peer.AUDIENCE,
        access_ttl=peer.LIFETIME_S,
        database_url="sqlite:///unused.db",  # engine=None below: nothing is opened
    )
    service = build_tokens(settings, MasterSecret(SECRET.encode()), None, SystemClock())
    await service.open(background=False)
    return service


def key_material(service: TokenService) -> peer.KeyMaterial:
    """authward's signing key, in the form `benchmarks/tokens.py` builds its paths from."""
    signing = service.ring.signing_key()
    alg, kid, private = signing.alg, signing.kid, signing.material
    if alg == "HS256":
        assert isinstance(private, bytes)
        jwk_dict: dict[str, Any] = HMACAlgorithm.to_jwk(private, as_dict=True)
        return peer.KeyMaterial(alg, kid, private, private, private, private, jwk_dict, jwk_dict)
    assert isinstance(
        private, ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
    )
    to_jwk: Any = {"EdDSA": OKPAlgorithm, "ES256": ECAlgorithm, "RS256": RSAAlgorithm}[alg].to_jwk
    private_pem, public_pem = peer._pem_pair(private)
    public = private.public_key()
    return peer.KeyMaterial(
        alg,
        kid,
        private,
        public,
        private_pem,
        public_pem,
        to_jwk(private, as_dict=True),
        to_jwk(public, as_dict=True),
    )


def authward_candidate(service: TokenService, token: str, claims: dict[str, Any]) -> peer.Candidate:
    def first_seen() -> object:
        service.access.forget()
        return service.verify(token)

    def verify_token(other: str) -> dict[str, Any]:
        service.access.forget()
        verified = service.verify(other)
        if verified.sub != claims["sub"] or verified.sid != claims["sid"]:
            raise AssertionError("authward read other claims")
        return claims

    return peer.Candidate(
        "authward, first seen", "authward", lambda: None, first_seen, verify_token, None
    )


async def measure_algorithm(alg: str, repeats: int, target_ms: float, quick: bool) -> VerifyRow:
    service = await open_service(alg)
    now = datetime.now(UTC)
    # A family id of the shape authward mints (16 URL-safe characters): it refuses others.
    family_id = crypto.new_handle()
    token, _ = service.access.issue("acct_7Yq3kP2mXw", family_id, now, now + timedelta(days=1))
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    km = key_material(service)
    candidates, lean = peer.build_candidates(km, claims, token)
    peer.check_candidates(candidates, lean, claims, token)
    mine = authward_candidate(service, token, claims)
    for cand in candidates:  # authward accepts what every other path signs
        if cand.sign_token is not None:
            mine.verify_token(cand.sign_token())
    hit = peer.Candidate(
        "authward, seen before",
        "authward",
        lambda: None,
        lambda: service.verify(token),
        mine.verify_token,
        None,
    )
    everyone = [*candidates, mine, hit]
    # This thread's CPU time, not the wall clock: other tenants' time slices stay out.
    peer.clock = getattr(peer, "CLOCKS", {}).get("cpu", peer.clock)
    results = peer.measure(everyone, repeats, target_ms * 1e6, 100 if quick else None)
    await service.close()
    by_label = {r.label: r for r in results}
    raw = next(r for r in results if r.library == "cryptography")
    best = {
        lib: min((r for r in results if r.library == lib), key=lambda r: r.verify.median_us)
        for lib in ("PyJWT", "joserfc")
    }
    fastest = min(best.values(), key=lambda r: r.verify.median_us)
    first = by_label["authward, first seen"]
    ratio = statistics.median(
        a / b for a, b in zip(first.verify.samples_ns, fastest.verify.samples_ns, strict=True)
    )
    return VerifyRow(
        alg=alg,
        raw_us=raw.verify.median_us,
        first_seen_us=first.verify.median_us,
        seen_before_us=by_label["authward, seen before"].verify.median_us,
        pyjwt_us=best["PyJWT"].verify.median_us,
        joserfc_us=best["joserfc"].verify.median_us,
        fastest_library=fastest.label,
        ratio_to_fastest=ratio,
    )
