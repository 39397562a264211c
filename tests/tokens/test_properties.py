"""Property: no mutation of a valid token verifies, and none raises but InvalidToken."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from authward.clock import FrozenClock
from authward.errors import InvalidToken
from authward.ids import Device
from authward.tokens.service import TokenService
from tests.tokens.factory import ALGORITHMS, make_service

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ \x00é"


def _build(alg: str) -> tuple[TokenService, str]:
    async def build() -> tuple[TokenService, str]:
        service = await make_service(FrozenClock(), alg)
        return service, (await service.issue("user-1", Device())).access_token

    return asyncio.run(build())


SUBJECTS = {alg: _build(alg) for alg in ALGORITHMS}


@st.composite
def mutations(draw: st.DrawFn, token: str) -> str:
    kind = draw(st.sampled_from(["replace", "insert", "delete", "truncate", "swap", "splice"]))
    at = draw(st.integers(0, len(token) - 1))
    if kind == "replace":
        return token[:at] + draw(st.sampled_from(ALPHABET)) + token[at + 1 :]
    if kind == "insert":
        return token[:at] + draw(st.text(ALPHABET, min_size=1, max_size=8)) + token[at:]
    if kind == "delete":
        end = draw(st.integers(at + 1, min(len(token), at + 16)))
        return token[:at] + token[end:]
    if kind == "truncate":
        return token[:at]
    if kind == "swap":
        parts = token.split(".")
        i, j = draw(st.permutations(range(3)))[:2]
        parts[i], parts[j] = parts[j], parts[i]
        return ".".join(parts)
    return token[:at] + draw(st.text(min_size=0, max_size=64)) + token[at:]


@pytest.mark.parametrize("alg", ALGORITHMS)
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_no_mutation_verifies(alg: str, data: st.DataObject) -> None:
    service, token = SUBJECTS[alg]
    assert service.verify(token).sub == "user-1"
    mutated = data.draw(mutations(token))
    if mutated == token:
        return
    with pytest.raises(InvalidToken) as caught:
        service.verify(mutated)
    assert type(caught.value) is InvalidToken


@settings(max_examples=300, deadline=None)
@given(garbage=st.one_of(st.text(max_size=200), st.binary(max_size=200).map(lambda b: b.hex())))
def test_arbitrary_text_never_verifies(garbage: str) -> None:
    service, _ = SUBJECTS["EdDSA"]
    with pytest.raises(InvalidToken):
        service.verify(garbage)
