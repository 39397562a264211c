"""TOTP's pure parts: secrets, sealing, and which step a code matches (RFC 6238)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest

from authward.errors import InvalidCode
from authward.factors import recovery, totp

KEY = bytes(range(32))
# RFC 6238 Appendix B: the SHA-1 seed, and the 8-digit code at T=59 is 94287082.
RFC_SECRET = base64.b32encode(b"12345678901234567890").decode()
RFC_TIME = datetime.fromtimestamp(59, UTC)


def test_a_secret_has_at_least_160_bits_and_is_new_each_time() -> None:
    secrets = {totp.new_secret() for _ in range(50)}
    assert len(secrets) == 50
    assert all(len(base64.b32decode(s)) * 8 >= 160 for s in secrets)


def test_the_rfc_6238_vector_matches_its_step() -> None:
    assert totp.matched_step(RFC_SECRET, "287082", RFC_TIME) == 1  # the low six digits


def test_one_step_of_drift_either_way_and_no_more() -> None:
    at = datetime.fromtimestamp(59 + 30 * 1, UTC)  # step 2: the step-1 code is one behind
    assert totp.matched_step(RFC_SECRET, "287082", at) == 1
    at = datetime.fromtimestamp(59 - 30, UTC)  # step 0: the step-1 code is one ahead
    assert totp.matched_step(RFC_SECRET, "287082", at) == 1
    with pytest.raises(InvalidCode):
        totp.matched_step(RFC_SECRET, "287082", datetime.fromtimestamp(59 + 60, UTC))


@pytest.mark.parametrize("code", ["", "28708", "2870821", "28708a", "٢٨٧٠٨٢", "-28708"])
def test_anything_but_six_ascii_digits_is_refused(code: str) -> None:
    with pytest.raises(InvalidCode):
        totp.matched_step(RFC_SECRET, code, RFC_TIME)


def test_a_sealed_secret_opens_only_for_its_user_and_key() -> None:
    sealed = totp.seal(RFC_SECRET, KEY, "ada")
    assert RFC_SECRET.encode() not in sealed
    assert totp.unseal(sealed, KEY, "ada") == RFC_SECRET
    with pytest.raises(InvalidCode):
        totp.unseal(sealed, KEY, "bob")  # a row copied to another account opens nowhere
    with pytest.raises(InvalidCode):
        totp.unseal(sealed, bytes(32), "ada")
    with pytest.raises(InvalidCode):
        totp.unseal(sealed[:10], KEY, "ada")


def test_recovery_codes_are_random_and_normalised_as_typed() -> None:
    codes = recovery.new_codes()
    assert len(set(codes)) == recovery.COUNT == 10
    code = codes[0]
    assert recovery.normalized(f"  {code.upper().replace('-', ' ')} ") == code
    assert recovery.normalized("0000-0000-0000") is None  # not of the alphabet
    assert recovery.normalized(code + "a") is None


async def test_a_recovery_hash_is_salted_and_checks_only_its_code() -> None:
    hasher = recovery.RecoveryHasher()
    first, second = await hasher.hash_all(["abcd-efgh-jkmn", "abcd-efgh-jkmn"])
    assert first != second and first.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert await hasher.matches(first, "abcd-efgh-jkmn")
    assert not await hasher.matches(first, "abcd-efgh-jkmp")
    assert not await hasher.matches("not a hash", "abcd-efgh-jkmn")
