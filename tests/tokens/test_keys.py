"""Signing keys: kids, sealing at rest, rotation, retirement, the JWKS, many processes."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives import serialization
from joserfc.jwk import ECKey, OKPKey, RSAKey
from sqlalchemy.ext.asyncio import AsyncEngine

from authward.clock import FrozenClock
from authward.errors import InvalidInput, InvalidToken
from authward.ids import Device
from authward.masterkey import MasterSecret
from authward.runtime import build_tokens
from authward.tokens import jwk
from authward.tokens.keys import PROPAGATION
from authward.tokens.service import KEY_POLL_INTERVAL, TokenService
from authward.tokens.sql import SqlKeyStore
from authward.tokens.store import KeyStore, MemoryKeyStore
from tests.tokens.factory import MASTER, TEST_RSA_BITS, make_service, token_settings

PUBLIC_MEMBERS = {"kty", "crv", "x", "y", "n", "e", "kid", "alg", "use"}
JOSERFC = {"OKP": OKPKey, "EC": ECKey, "RSA": RSAKey}
RFC_7638_N = (
    "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPeb"
    "WKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368Q"
    "QMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2"
    "NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
)


def key_store(engine: AsyncEngine | None) -> KeyStore:
    return MemoryKeyStore() if engine is None else SqlKeyStore(engine)


def sql_service(
    clock: FrozenClock, store: KeyStore, alg: str = "EdDSA", **kw: object
) -> TokenService:
    master = kw.pop("master", MASTER)
    assert isinstance(master, MasterSecret)
    return build_tokens(
        token_settings(alg),
        master,
        None,
        clock,
        keys=store,
        rsa_bits=TEST_RSA_BITS,
        **kw,  # type: ignore[arg-type]
    )


def test_thumbprint_matches_rfc_7638_example() -> None:
    # RFC 7638 §3.1: members other than the required ones do not count.
    key = {"kty": "RSA", "n": RFC_7638_N, "e": "AQAB", "alg": "RS256", "kid": "2011-04-29"}
    assert jwk.thumbprint(key) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


async def test_kid_is_the_thumbprint_other_libraries_compute(service: TokenService) -> None:
    published = service.jwks()["keys"]
    assert isinstance(published, list)
    if service.ring.alg == "HS256":
        assert published == []
        return
    (entry,) = published
    imported = JOSERFC[entry["kty"]].import_key(entry)  # type: ignore[attr-defined]
    assert entry["kid"] == imported.thumbprint()
    assert entry["kid"] == service.ring.signing_key().kid


async def test_jwks_holds_public_members_only(service: TokenService, clock: FrozenClock) -> None:
    await service.rotate_keys() if service.ring.alg != "HS256" else None
    published = service.jwks()["keys"]
    assert isinstance(published, list)
    for entry in published:
        assert set(entry) <= PUBLIC_MEMBERS
        assert entry["use"] == "sig" and entry["alg"] == service.ring.alg
    assert len(published) == (0 if service.ring.alg == "HS256" else 2)


async def test_hs256_stores_and_publishes_nothing_secret(clock: FrozenClock) -> None:
    store = MemoryKeyStore()
    service = sql_service(clock, store, "HS256")
    await service.open(background=False)
    (stored,) = await store.load()
    assert stored.public_jwk is None and stored.sealed_private is None
    assert service.jwks() == {"keys": []}
    with pytest.raises(InvalidInput):
        await service.rotate_keys()


@pytest.mark.parametrize("alg", ["EdDSA", "ES256", "RS256"])
async def test_private_keys_are_sealed_at_rest(
    alg: str, engine: AsyncEngine | None, clock: FrozenClock
) -> None:
    store = key_store(engine)
    service = sql_service(clock, store, alg)
    await service.open(background=False)
    (stored,) = await store.load()
    assert stored.sealed_private is not None
    private = service.ring.signing_key().material
    assert not isinstance(private, bytes)
    der = private.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    assert der not in stored.sealed_private and der[-32:] not in stored.sealed_private
    kek = MASTER.derive("key-encryption")
    assert jwk.unseal(stored.sealed_private, kek, kid=stored.kid, alg=alg) is not None
    with pytest.raises(jwk.KeyUnavailable):  # another deployment's secret
        jwk.unseal(stored.sealed_private, MasterSecret(b"z" * 40).derive("key-encryption"),
                   kid=stored.kid, alg=alg)  # fmt: skip
    with pytest.raises(jwk.KeyUnavailable):  # copied onto another key's row
        jwk.unseal(stored.sealed_private, kek, kid="another-kid", alg=alg)


async def test_wrong_master_secret_fails_at_open_and_rotation_repairs(clock: FrozenClock) -> None:
    store = MemoryKeyStore()
    await sql_service(clock, store).open(background=False)
    stranger = sql_service(clock, store, master=MasterSecret(b"another-secret-" * 3))
    with pytest.raises(jwk.KeyUnavailable):
        await stranger.open(background=False)
    await stranger.rotate_keys()  # what `authward keys rotate` does: no open needed
    await stranger.open(background=False)
    stranger.verify((await stranger.issue("user-1", Device())).access_token)


async def test_rotation_signs_at_once_and_retires_the_old_key(
    engine: AsyncEngine | None, clock: FrozenClock
) -> None:
    store = key_store(engine)
    service = sql_service(clock, store)
    await service.open(background=False)
    old_kid = service.ring.signing_key().kid
    old_token = (await service.issue("user-1", Device())).access_token
    clock.advance(60)
    info = await service.rotate_keys()
    assert info.kid != old_kid and info.state == "active"
    assert service.ring.signing_key().kid == info.kid
    new_token = (await service.issue("user-1", Device())).access_token
    assert service.verify(new_token).kid == info.kid
    assert service.verify(old_token).kid == old_kid
    listed = {k.kid: k for k in await service.list_keys()}
    assert listed[old_kid].state == "retired" and listed[old_kid].retired_at == clock.now()
    assert listed[old_kid].verifies_until == clock.now() + service.window
    retired = next(k for k in await store.load() if k.kid == old_kid)
    assert retired.sealed_private is None  # the private half is wiped at retirement
    published = service.jwks()["keys"]
    assert isinstance(published, list)
    assert [k["kid"] for k in published] == [info.kid, old_kid]


async def test_retired_key_verifies_for_the_access_ttl_then_drops_out(clock: FrozenClock) -> None:
    service = await make_service(clock)
    old_kid = service.ring.signing_key().kid
    token = (await service.issue("user-1", Device())).access_token
    await service.rotate_keys()
    assert service.window >= timedelta(seconds=300 + 1) + PROPAGATION
    clock.advance(service.window - timedelta(microseconds=1))
    assert service.ring.verifying_key(old_kid, clock.now()) is not None
    assert old_kid in str(service.jwks())
    clock.advance(timedelta(microseconds=1))
    assert service.ring.verifying_key(old_kid, clock.now()) is None
    assert old_kid not in str(service.jwks())
    with pytest.raises(InvalidToken):
        service.verify(token)
    assert [k.state for k in await service.list_keys()] == ["expired", "active"]
    assert await service.sweep() >= 1
    assert [k.state for k in await service.list_keys()] == ["active"]


async def test_concurrent_first_starts_agree_on_one_key(
    engine: AsyncEngine | None, clock: FrozenClock
) -> None:
    shared = key_store(engine)
    services = [
        sql_service(clock, shared if engine is None else SqlKeyStore(engine)) for _ in range(6)
    ]
    await asyncio.gather(*(s.open(background=False) for s in services))
    assert len(await shared.load()) == 1
    assert len({s.ring.signing_key().kid for s in services}) == 1
    token = (await services[0].issue("user-1", Device())).access_token
    for other in services[1:]:
        other.verify(token)


async def test_concurrent_rotations_leave_one_active_key(
    engine: AsyncEngine | None, clock: FrozenClock
) -> None:
    store = key_store(engine)
    services = [sql_service(clock, store) for _ in range(4)]
    for service in services:
        await service.open(background=False)
    infos = await asyncio.gather(*(s.rotate_keys() for s in services))
    active = [k for k in await store.load() if k.retired_at is None]
    assert len(active) == 1 and {i.kid for i in infos} <= {k.kid for k in await store.load()}


async def test_rotation_elsewhere_is_picked_up_by_sync(
    engine: AsyncEngine | None, clock: FrozenClock
) -> None:
    store = key_store(engine)
    server, cli = sql_service(clock, store), sql_service(clock, store)
    await server.open(background=False)
    old_kid = server.ring.signing_key().kid
    info = await cli.rotate_keys()
    await cli.open(background=False)
    from_cli = (await cli.issue("user-1", Device())).access_token
    with pytest.raises(InvalidToken):
        server.verify(from_cli)  # unknown kid until the next poll: no I/O in verify
    assert server.ring.signing_key().kid == old_kid
    await server.sync_keys()
    assert server.ring.signing_key().kid == info.kid
    assert server.verify(from_cli).kid == info.kid


async def test_background_poll_picks_up_a_rotation(clock: FrozenClock) -> None:
    assert KEY_POLL_INTERVAL * 2 <= PROPAGATION.total_seconds()  # the contract's 10 s
    store = MemoryKeyStore()
    server = sql_service(clock, store, key_poll_interval=0.001)
    polled = asyncio.Event()
    original = server.sync_keys

    async def sync_and_tell() -> None:
        await original()
        if server.ring.signing_key().kid == rotated:
            polled.set()

    server.sync_keys = sync_and_tell  # type: ignore[method-assign]
    await server.open(background=True)
    try:
        rotated = (await sql_service(clock, store).rotate_keys()).kid
        await asyncio.wait_for(polled.wait(), timeout=10)
    finally:
        await server.close()


async def test_changing_the_algorithm_rotates_and_old_tokens_live_out(clock: FrozenClock) -> None:
    store = MemoryKeyStore()
    eddsa = sql_service(clock, store, "EdDSA")
    await eddsa.open(background=False)
    token = (await eddsa.issue("user-1", Device())).access_token
    es256 = sql_service(clock, store, "ES256")
    await es256.open(background=False)
    assert es256.ring.signing_key().alg == "ES256"
    assert es256.verify(token).sub == "user-1"  # verified as EdDSA: pinned to its key
    assert [(k.alg, k.state) for k in await es256.list_keys()] == [
        ("EdDSA", "retired"), ("ES256", "active"),
    ]  # fmt: skip


async def test_hs256_with_a_new_secret_gets_a_new_kid(clock: FrozenClock) -> None:
    store = MemoryKeyStore()
    first = sql_service(clock, store, "HS256")
    await first.open(background=False)
    token = (await first.issue("user-1", Device())).access_token
    second = sql_service(clock, store, "HS256", master=MasterSecret(b"the-next-shared-secret-" * 2))
    await second.open(background=False)
    assert second.ring.signing_key().kid != first.ring.signing_key().kid
    with pytest.raises(InvalidToken):
        second.verify(token)  # the old secret is not known here


async def test_unusable_stored_key_is_ignored_not_fatal(clock: FrozenClock) -> None:
    store = MemoryKeyStore()
    service = sql_service(clock, store)
    await service.open(background=False)
    (good,) = await store.load()
    bad = replace(good, generation=0, kid="not-the-thumbprint", retired_at=clock.now())
    store._keys[0] = bad
    await service.sync_keys()
    assert service.ring.verifying_key("not-the-thumbprint", clock.now()) is None
    assert service.ring.signing_key().kid == good.kid
