"""The remote verifier checks tokens and keys with the service's own rules, not a copy.

`authward.tokens.access` holds the token rules as pure code and `jwk.load_public` the
key rules: the key ring and `JwksVerifier` both go through them.
"""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from authward.clock import FrozenClock
from authward.tokens import jwk
from authward.tokens.access import kid_of
from tests.remote.conftest import Endpoint
from tests.remote.test_imports import loaded_after


def _public_jwk(alg: str, key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> dict[str, str]:
    algorithm = (
        ECAlgorithm(ECAlgorithm.SHA256) if alg == "ES256" else RSAAlgorithm(RSAAlgorithm.SHA256)
    )
    members = algorithm.to_jwk(key.public_key(), as_dict=True)
    return {name: str(value) for name, value in members.items()}


WEAK_RSA = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 - under test
UNSUITED = {
    "ES256 on P-384": ("ES256", ec.generate_private_key(ec.SECP384R1())),
    "RS256 of 1024 bits": ("RS256", WEAK_RSA),
}


@pytest.mark.parametrize("name", list(UNSUITED))
def test_a_key_that_does_not_suit_its_algorithm_is_refused_by_the_ring_rule(name: str) -> None:
    alg, key = UNSUITED[name]
    with pytest.raises(jwk.KeyUnavailable, match="does not suit"):
        jwk.load_public(alg, _public_jwk(alg, key))


async def test_the_remote_verifier_ignores_the_same_keys(
    endpoint: Endpoint, clock: FrozenClock
) -> None:
    endpoint.extra_keys = [
        {**_public_jwk(alg, key), "kid": name.replace(" ", "-"), "alg": alg}
        for name, (alg, key) in UNSUITED.items()
    ]
    verifier = endpoint.verifier(clock)
    verifier.refresh()
    assert verifier.kids == {k["kid"] for k in endpoint.service.jwks()["keys"]}  # type: ignore[attr-defined]


def _segment(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


async def test_the_kid_a_fetch_is_decided_on_is_read_by_the_verifiers_parser(
    endpoint: Endpoint,
) -> None:
    token = await endpoint.token()
    (kid,) = {k["kid"] for k in endpoint.service.jwks()["keys"]}  # type: ignore[attr-defined]
    assert kid_of(token) == kid
    header = {"alg": "EdDSA", "typ": "at+jwt", "kid": "new-kid"}
    assert kid_of(_segment(header) + ".e30.sig") == "new-kid"
    # What the verifier refuses before a kid lookup makes no fetch either.
    assert kid_of(_segment({**header, "jku": "https://evil.example/"}) + ".e30.sig") is None
    assert kid_of(_segment(header) + "=" + ".e30.sig") is None  # padded: not canonical
    assert kid_of(_segment([header]) + ".e30.sig") is None
    assert kid_of("") is None
    assert kid_of("a" * 2000 + ".e30.sig") is None


def test_the_remote_loads_the_rules_but_not_the_key_ring_or_its_store() -> None:
    probe = (
        "import authward.remote; "
        "assert 'authward.tokens.access' in sys.modules; "
        "assert not {'authward.tokens.keys', 'authward.tokens.store', 'authward.masterkey'}"
        " & set(sys.modules)"
    )
    assert loaded_after(probe) == []
