"""Access tokens: the RFC 9068 shape, lifetimes, the verified-token cache."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest
from pydantic import ValidationError

from authward import crypto
from authward.clock import FrozenClock
from authward.errors import InvalidToken
from authward.ids import Device
from authward.settings import Settings
from authward.tokens.access import MAX_TOKEN_BYTES, AccessVerifier
from authward.tokens.service import TokenService
from authward.tokens.store import MemoryKeyStore
from tests.tokens.factory import make_service


def segment(token: str, index: int) -> dict[str, object]:
    part = token.split(".")[index]
    decoded: dict[str, object] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return decoded


async def test_token_has_exactly_the_rfc_9068_header_and_claims(
    service: TokenService, clock: FrozenClock
) -> None:
    pair = await service.issue("user-1", Device("agent", "192.0.2.1"))
    signing = service.ring.signing_key()
    assert segment(pair.access_token, 0) == {
        "alg": signing.alg,
        "typ": "at+jwt",
        "kid": signing.kid,
    }
    claims = segment(pair.access_token, 1)
    assert set(claims) == {
        "iss",
        "aud",
        "sub",
        "iat",
        "exp",
        "jti",
        "sid",
        "client_id",
        "auth_time",
        "amr",
        "acr",
    }
    now = int(clock.now().timestamp())
    # RFC 9068 §2.2.1: how the login authenticated (a password alone here).
    assert (claims["auth_time"], claims["amr"], claims["acr"]) == (now, ["pwd"], "aal1")
    assert claims["iss"] == claims["aud"] == claims["client_id"] == "authward"
    assert (claims["sub"], claims["sid"], claims["iat"], claims["exp"]) == (
        "user-1", pair.family.id, now, now + 300,
    )  # fmt: skip
    assert pair.expires_in == 300


async def test_verify_returns_the_claims(service: TokenService, clock: FrozenClock) -> None:
    pair = await service.issue("user-1", Device())
    claims = service.verify(pair.access_token)
    assert (claims.sub, claims.user_id, claims.sid) == ("user-1", "user-1", pair.family.id)
    assert claims.iat == clock.now() and claims.exp == clock.now() + timedelta(seconds=300)
    assert claims.kid == service.ring.signing_key().kid


async def test_every_token_has_its_own_jti(service: TokenService) -> None:
    pair = await service.issue("user-1", Device())
    jtis = {service.verify(pair.access_token).jti}
    for _ in range(20):
        pair = await service.refresh(pair.refresh_token, Device())
        jtis.add(service.verify(pair.access_token).jti)
    assert len(jtis) == 21


async def test_expiry_honours_the_leeway_exactly(service: TokenService, clock: FrozenClock) -> None:
    token = (await service.issue("user-1", Device())).access_token
    clock.advance(300 + 0.999)  # exp + leeway (1 s) not yet reached
    service.verify(token)
    clock.advance(0.001)
    with pytest.raises(InvalidToken):
        service.verify(token)


async def test_access_token_never_outlives_its_family(clock: FrozenClock) -> None:
    service = await make_service(clock, refresh_ttl=600, access_ttl=300)
    pair = await service.issue("user-1", Device())
    clock.advance(450)
    pair = await service.refresh(pair.refresh_token, Device())
    assert pair.expires_in == 150
    assert service.verify(pair.access_token).exp == pair.family.expires_at


async def test_refresh_in_the_last_second_of_a_family_gets_nothing(clock: FrozenClock) -> None:
    clock.advance(0.7)  # the family ends at .7 of a second: iat and exp are whole seconds
    service = await make_service(clock, refresh_ttl=600)
    pair = await service.issue("user-1", Device())
    clock.advance(599.5)
    with pytest.raises(InvalidToken):
        await service.refresh(pair.refresh_token, Device())


async def test_cached_token_still_expires(service: TokenService, clock: FrozenClock) -> None:
    token = (await service.issue("user-1", Device())).access_token
    service.verify(token)
    service.verify(token)  # from the cache
    clock.advance(302)
    with pytest.raises(InvalidToken):
        service.verify(token)


async def test_cached_token_is_still_checked_for_revocation(service: TokenService) -> None:
    pair = await service.issue("user-1", Device())
    service.verify(pair.access_token)
    await service.revoke_family(pair.family.id)
    with pytest.raises(InvalidToken):
        service.verify(pair.access_token)


async def test_cache_is_bounded(clock: FrozenClock) -> None:
    service = await make_service(clock)
    service.access._cache_size = 5
    tokens = [(await service.issue(f"user-{i}", Device())).access_token for i in range(12)]
    for token in tokens:
        service.verify(token)
    assert len(service.access._cache) == 5
    for token in tokens:
        service.verify(token)  # evicted ones verify afresh


async def test_cached_token_of_a_withdrawn_key_is_refused(clock: FrozenClock) -> None:
    service = await make_service(clock)
    token = (await service.issue("user-1", Device())).access_token
    service.verify(token)
    await service.rotate_keys()
    clock.advance(service.window - timedelta(seconds=1))
    with pytest.raises(InvalidToken):
        service.verify(token)  # expired by now anyway; and its key is about to go
    fresh = (await service.issue("user-1", Device())).access_token
    service.verify(fresh)
    await service.rotate_keys()
    clock.advance(service.window)
    with pytest.raises(InvalidToken):
        service.verify(fresh)


@pytest.mark.parametrize("value", [None, 1, b"bytes", ["a.b.c"]])
async def test_non_string_input_is_invalid(service: TokenService, value: object) -> None:
    with pytest.raises(InvalidToken):
        service.verify(value)  # type: ignore[arg-type]


async def test_size_limit_is_checked_before_parsing(
    service: TokenService, monkeypatch: pytest.MonkeyPatch
) -> None:
    parsed: list[str] = []

    def spy(segment: str) -> bytes:
        parsed.append(segment)
        return b"{}"

    monkeypatch.setattr("authward.tokens.access._b64decode", spy)
    with pytest.raises(InvalidToken):
        service.verify("a" * (MAX_TOKEN_BYTES + 1))
    assert parsed == []


async def test_leeway_above_thirty_seconds_is_refused(clock: FrozenClock) -> None:
    service = await make_service(clock, open_it=False)
    with pytest.raises(ValueError, match="leeway"):
        type(service.access)(
            service.ring, issuer="i", audience="a", ttl=timedelta(seconds=60),
            leeway=timedelta(seconds=31),
        )  # fmt: skip


async def test_cached_token_of_a_key_removed_from_the_store_is_refused(clock: FrozenClock) -> None:
    """An operator deleting a compromised key: its tokens die at the next poll, cached or not."""
    service = await make_service(clock)
    token = (await service.issue("user-1", Device())).access_token
    service.verify(token)
    await service.rotate_keys()
    service.verify(token)  # retired keys keep verifying...
    store = service.ring._store
    assert isinstance(store, MemoryKeyStore)
    del store._keys[1]  # ...unless withdrawn outright
    await service.sync_keys()
    with pytest.raises(InvalidToken):
        service.verify(token)


@pytest.mark.parametrize("missing", ["iss", "aud", "sub", "iat", "exp", "jti", "sid", "client_id"])
async def test_each_required_claim_is_checked_by_name(
    service: TokenService, clock: FrozenClock, missing: str
) -> None:
    """The explicit check, beneath the catch-all that would also refuse a KeyError."""
    now = int(clock.now().timestamp())
    claims: dict[str, object] = {
        "iss": "authward", "aud": "authward", "sub": "u", "iat": now, "exp": now + 60,
        "jti": crypto.new_token_id(), "sid": crypto.new_handle(), "client_id": "authward",
    }  # fmt: skip
    key = service.ring.verifying_key(service.ring.signing_key().kid, clock.now())
    assert key is not None
    service.access._check_claims(claims, clock.now(), key)
    del claims[missing]
    with pytest.raises(InvalidToken):
        service.access._check_claims(claims, clock.now(), key)


async def test_client_id_is_the_configured_one_and_only_it_verifies(clock: FrozenClock) -> None:
    """RFC 9068 §2.2: the token names its client; a token of another client is refused."""
    mobile = await make_service(clock, client_id="mobile app/1")
    default = await make_service(clock)  # the same key (the memory stores share it)
    token = (await mobile.issue("user-1", Device())).access_token
    assert segment(token, 1)["client_id"] == "mobile app/1"
    assert mobile.verify(token).client_id == "mobile app/1"
    assert default.verify((await default.issue("user-1", Device())).access_token).client_id == (
        "authward"
    )
    with pytest.raises(InvalidToken):
        default.verify(token)


@pytest.mark.parametrize("client_id", ["", "\x00", "tab\there", "é", "~" * 256])
def test_a_malformed_client_id_is_refused_when_configured(
    service: TokenService, client_id: str
) -> None:
    with pytest.raises(ValueError, match="client_id"):
        AccessVerifier(
            service.ring, issuer="i", audience="a", leeway=timedelta(0), client_id=client_id
        )


@pytest.mark.parametrize("client_id", ["", "\n", "x" * 256])
def test_a_malformed_client_id_setting_is_refused(client_id: str) -> None:
    with pytest.raises(ValidationError):
        Settings(client_id=client_id)
