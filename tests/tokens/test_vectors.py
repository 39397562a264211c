"""The attack catalogue (RFC 8725 and known CVEs), one JSON file per attack in vectors/.

Each vector is forged from a valid token of the service under test and presented to
`TokenService.verify`, on each of the four algorithms it applies to. Every attack must
raise exactly InvalidToken; the ``control-*`` vectors must verify, which proves that the
forge makes sound tokens and that each attack fails for the reason it describes.
"""

from __future__ import annotations

import pytest

from authward.clock import FrozenClock
from authward.errors import InvalidToken, TokenExpired
from authward.ids import Device
from authward.tokens.service import TokenService
from tests.tokens.factory import ALGORITHMS, make_service
from tests.tokens.forge import Attacker, Vector, load_vectors

VECTORS = load_vectors()
CASES = [
    pytest.param(vector, alg, id=f"{vector.name}[{alg}]")
    for vector in VECTORS
    for alg in ALGORITHMS
    if vector.applies_to(alg)
]


@pytest.mark.parametrize(("vector", "alg"), CASES)
async def test_vector(vector: Vector, alg: str, clock: FrozenClock) -> None:
    service = await make_service(clock, alg)
    valid = (await service.issue("user-1", Device())).access_token
    forged = Attacker(service, clock).forge(vector, valid)
    clock.advance(vector.spec.get("advance", 0))
    if vector.expect_valid:
        assert service.verify(forged).sub == "user-1"
        return
    with pytest.raises(InvalidToken) as caught:
        service.verify(forged)
    # Only a genuine token past its exp is told apart (for metrics), and it says the same.
    expected = TokenExpired if vector.name == "exp-past" else InvalidToken
    assert type(caught.value) is expected
    assert str(caught.value) == str(InvalidToken())
    with pytest.raises(InvalidToken):
        service.verify(forged)  # a refused token is never remembered as good


def test_catalogue_covers_the_required_attacks() -> None:
    names = {vector.name for vector in VECTORS}
    required = {
        "alg-none-lowercase", "alg-none-capitalised", "alg-none-uppercase", "alg-none-mixed-case",
        "alg-hs256-keyed-with-public-pem", "alg-hs256-keyed-with-public-der",
        "kid-unknown", "kid-path-traversal", "kid-sql-injection",
        "header-jwk-embedded-attacker-key", "header-jku", "header-x5u", "header-x5c",
        "header-crit-unknown", "iss-wrong", "iss-substring", "aud-wrong", "exp-past",
        "nbf-future", "tampered-sub", "signature-stripped", "signature-flipped-bit",
        "base64-bad-character", "token-oversized", "claims-deeply-nested", "typ-jwt",
        "sub-integer", "client_id-wrong",
        *(f"missing-{c}" for c in ("iss", "aud", "sub", "iat", "exp", "jti", "sid", "client_id")),
    }  # fmt: skip
    assert required <= names
    assert len(names) == len(VECTORS)
    assert all(v.reference and v.spec.get("description") for v in VECTORS)


async def test_every_vector_is_refused_on_a_fresh_service_too(clock: FrozenClock) -> None:
    """Nothing depends on what one service has seen: the same forgeries, one service each."""
    services: dict[str, TokenService] = {alg: await make_service(clock, alg) for alg in ALGORITHMS}
    for alg, service in services.items():
        attacker = Attacker(service, clock)
        valid = (await service.issue("user-1", Device())).access_token
        for vector in VECTORS:
            if vector.applies_to(alg) and not vector.expect_valid and "advance" not in vector.spec:
                with pytest.raises(InvalidToken):
                    service.verify(attacker.forge(vector, valid))
        assert service.verify(valid).sub == "user-1"
