"""Other verifiers: plain PyJWT with nothing but the published JWKS document."""

from __future__ import annotations

import json

import jwt
import pytest
from joserfc import jwt as jose_jwt
from joserfc.jwk import KeySet

from authward.clock import FrozenClock
from authward.ids import Device
from tests.tokens.factory import make_service


def verify_with_pyjwt(jwks_document: str, token: str) -> dict[str, object]:
    """What a resource server does: fetch the JWKS, pick the key by kid, pin its alg."""
    key_set = jwt.PyJWKSet.from_json(jwks_document)
    kid = jwt.get_unverified_header(token)["kid"]
    key = key_set[kid]
    options = {"verify_exp": False, "verify_iat": False}  # frozen clock, wall-clock PyJWT
    claims: dict[str, object] = jwt.decode(
        token, key, algorithms=[key.algorithm_name], audience="authward", issuer="authward",
        options=options,  # type: ignore[arg-type]
    )  # fmt: skip
    return claims


@pytest.mark.parametrize("alg", ["EdDSA", "ES256", "RS256"])
async def test_token_verifies_with_pyjwt_from_the_jwks_alone(alg: str, clock: FrozenClock) -> None:
    service = await make_service(clock, alg)
    pair = await service.issue("user-1", Device())
    document = json.dumps(service.jwks())  # as served at /.well-known/jwks.json
    claims = verify_with_pyjwt(document, pair.access_token)
    assert (claims["sub"], claims["sid"]) == ("user-1", pair.family.id)


# RFC 9864 deprecates the polymorphic "EdDSA" name for "Ed25519"; joserfc warns about it,
# while the contract (and PyJWT) still use "EdDSA". The signature is the same either way.
@pytest.mark.filterwarnings("ignore:EdDSA is deprecated:joserfc.errors.SecurityWarning")
@pytest.mark.parametrize("alg", ["EdDSA", "ES256", "RS256"])
async def test_token_verifies_with_joserfc_from_the_jwks_alone(
    alg: str, clock: FrozenClock
) -> None:
    service = await make_service(clock, alg)
    pair = await service.issue("user-1", Device())
    key_set = KeySet.import_key_set(json.loads(json.dumps(service.jwks())))
    token = jose_jwt.decode(pair.access_token, key_set, algorithms=[alg])
    assert token.header["typ"] == "at+jwt" and token.claims["sub"] == "user-1"


async def test_hs256_token_verifies_with_pyjwt_and_the_shared_secret(clock: FrozenClock) -> None:
    service = await make_service(clock, "HS256")
    pair = await service.issue("user-1", Device())
    secret = service.ring.signing_key().material
    assert isinstance(secret, bytes)
    claims = jwt.decode(
        pair.access_token, secret, algorithms=["HS256"], audience="authward",
        options={"verify_exp": False, "verify_iat": False},
    )  # fmt: skip
    assert claims["sub"] == "user-1"


@pytest.mark.parametrize("alg", ["EdDSA", "ES256", "RS256"])
async def test_key_rotated_out_beyond_the_ttl_verifies_nowhere(
    alg: str, clock: FrozenClock
) -> None:
    service = await make_service(clock, alg)
    token = (await service.issue("user-1", Device())).access_token
    await service.rotate_keys()
    verify_with_pyjwt(json.dumps(service.jwks()), token)  # retired, still published
    clock.advance(service.window)
    document = json.dumps(service.jwks())
    with pytest.raises(KeyError):  # PyJWKSet: no such kid any more
        verify_with_pyjwt(document, token)
    assert len(json.loads(document)["keys"]) == 1
