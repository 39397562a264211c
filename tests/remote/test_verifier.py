"""`JwksVerifier`: authward's own checks, with keys fetched from a JWKS URL."""

from __future__ import annotations

import pytest

from authward.clock import FrozenClock
from authward.errors import InvalidToken, StoreUnavailable
from authward.ids import Device
from authward.remote import JwksVerifier, bearer_token
from tests.remote.conftest import Endpoint
from tests.tokens.factory import make_service
from tests.tokens.forge import Attacker, Vector, load_vectors

ASYMMETRIC = ("EdDSA", "ES256", "RS256")
CASES = [
    pytest.param(vector, alg, id=f"{vector.name}[{alg}]")
    for vector in load_vectors()
    for alg in ASYMMETRIC
    if vector.applies_to(alg)
]


@pytest.mark.parametrize(("vector", "alg"), CASES)
async def test_the_attack_catalogue_fails_here_as_in_authward(
    vector: Vector, alg: str, clock: FrozenClock
) -> None:
    service = await make_service(clock, alg)
    verifier = Endpoint(service).verifier(clock)
    valid = (await service.issue("user-1", Device())).access_token
    forged = Attacker(service, clock).forge(vector, valid)
    clock.advance(vector.spec.get("advance", 0))
    if vector.expect_valid:
        assert verifier.verify(forged).sub == "user-1"
        assert (await verifier.verify_async(forged)).sub == "user-1"
        return
    with pytest.raises(InvalidToken):
        verifier.verify(forged)
    with pytest.raises(InvalidToken):
        await verifier.verify_async(forged)


async def test_keys_are_cached_and_refetched_at_once_for_a_new_kid(
    endpoint: Endpoint, clock: FrozenClock
) -> None:
    verifier = endpoint.verifier(clock, min_refetch_interval=0)
    token = await endpoint.token()
    assert verifier.verify(token).sub == "user-1"
    assert (await verifier.verify_async(token)).sub == "user-1"
    assert endpoint.fetches == 1
    await endpoint.service.rotate_keys()
    rotated = await endpoint.token()
    assert (await verifier.verify_async(rotated)).sub == "user-1"
    assert endpoint.fetches == 2
    assert verifier.verify(token).sub == "user-1", "the retired key still verifies"


async def test_unknown_kids_refetch_at_a_bounded_rate(
    endpoint: Endpoint, clock: FrozenClock
) -> None:
    verifier = endpoint.verifier(clock, min_refetch_interval=60, max_age=10_000)
    token = await endpoint.token()
    verifier.verify(token)
    clock.advance(61)
    forger = await make_service(clock, "EdDSA")
    for _ in range(20):
        await forger.rotate_keys()  # a key of its own each time: kids nobody publishes
        forged = (await forger.issue("user-1", Device())).access_token
        with pytest.raises(InvalidToken):
            await verifier.verify_async(forged)
    assert endpoint.fetches == 2, "one fetch at start, one for the first unknown kid"
    clock.advance(61)
    await forger.rotate_keys()
    with pytest.raises(InvalidToken):
        verifier.verify((await forger.issue("user-1", Device())).access_token)
    assert endpoint.fetches == 3


async def test_an_unreachable_endpoint_fails_closed(endpoint: Endpoint, clock: FrozenClock) -> None:
    endpoint.down = True
    verifier = endpoint.verifier(clock)
    token = await endpoint.token()
    with pytest.raises(StoreUnavailable):
        verifier.verify(token)
    with pytest.raises(StoreUnavailable):
        await verifier.verify_async(token)
    endpoint.down = False
    verifier = endpoint.verifier(clock)
    verifier.verify(token)
    endpoint.down = True  # later outages: the cached keys keep serving
    assert verifier.verify(token).sub == "user-1"


async def test_keys_of_other_algorithms_or_uses_are_ignored(
    endpoint: Endpoint, clock: FrozenClock
) -> None:
    rsa = await make_service(clock, "RS256")
    rsa_key = rsa.jwks()["keys"][0]  # type: ignore[index]
    endpoint.extra_keys = [
        {**rsa_key, "kid": "enc", "use": "enc"},
        {**rsa_key, "kid": "mislabeled", "alg": "EdDSA"},
        {"kid": "secret", "kty": "oct", "k": "c2VjcmV0", "alg": "HS256"},
    ]
    verifier = endpoint.verifier(clock)
    verifier.refresh()
    assert verifier.kids == {k["kid"] for k in endpoint.service.jwks()["keys"]}  # type: ignore[attr-defined]
    only_rsa = endpoint.verifier(clock, algorithms=["RS256"])
    await only_rsa.refresh_async()
    assert only_rsa.kids == set()


def test_insecure_urls_and_symmetric_algorithms_are_refused() -> None:
    with pytest.raises(ValueError, match="https"):
        JwksVerifier("http://auth.example/.well-known/jwks.json")
    JwksVerifier("http://127.0.0.1:8000/.well-known/jwks.json")
    JwksVerifier("http://auth:8000/.well-known/jwks.json", allow_http=True)
    with pytest.raises(ValueError, match="algorithms"):
        JwksVerifier("https://auth.example/jwks", algorithms=["HS256"])


def test_bearer_token_parsing() -> None:
    assert bearer_token(None) is None
    assert bearer_token("Bearer abc") == "abc"
    assert bearer_token("bearer  abc ") == "abc"
    for bad in ("Basic abc", "Bearer", "Bearer " + "a" * 9000):
        with pytest.raises(InvalidToken):
            bearer_token(bad)


async def test_the_claims_say_how_the_login_authenticated(
    endpoint: Endpoint, clock: FrozenClock
) -> None:
    verifier = endpoint.verifier(clock)
    login_at = clock.now()
    pair = await endpoint.service.issue("user-1", Device(), amr=("pwd", "otp"))
    clock.advance(60)
    claims = verifier.verify(pair.access_token)
    assert (claims.auth_time, claims.amr, claims.acr) == (login_at, ("pwd", "otp"), "aal2")
    plain = verifier.verify(await endpoint.token())
    assert (plain.auth_time, plain.amr, plain.acr) == (clock.now(), ("pwd",), "aal1")
