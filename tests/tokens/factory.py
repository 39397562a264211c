"""Token services for tests: every algorithm, memory or SQL stores, keys made once.

Generating an RSA key takes a while, so each algorithm's first key is made once per run
and copied into every memory key store; SQL-backed services make their own (2048-bit RSA,
to keep the suite quick: the size is not under test).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from authward.clock import FrozenClock
from authward.masterkey import MasterSecret
from authward.revocation.bus import RevocationBus
from authward.runtime import build_tokens
from authward.settings import Settings
from authward.tokens import jwk
from authward.tokens.service import TokenService
from authward.tokens.store import FamilyStore, MemoryKeyStore, StoredKey

SECRET = "token-tests-" + "0123456789abcdefghijklmnopqrstuvwxyz"
MASTER = MasterSecret(SECRET.encode())
ALGORITHMS = ["EdDSA", "ES256", "RS256", "HS256"]
TEST_RSA_BITS = 2048
KEY_BIRTH = datetime(2029, 12, 31, tzinfo=UTC)  # before FrozenClock's start

BACKENDS = ["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]

_SEEDS: dict[str, StoredKey] = {}


def token_settings(alg: str = "EdDSA", **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "jwt_alg": alg,
        "secret_key": SECRET,
        "access_ttl": 300,
        "refresh_ttl": 3600,
        "refresh_grace": 5,
        "leeway": 1,
        **overrides,
    }
    return Settings(**values)


def seed_key(alg: str) -> StoredKey:
    """The one key of `alg` shared by memory-backed services (made on first use)."""
    if alg not in _SEEDS:
        kid_secret = jwk.thumbprint(jwk.secret_jwk(MASTER.raw))
        if alg == "HS256":
            _SEEDS[alg] = StoredKey(kid_secret, alg, 1, KEY_BIRTH, None, None, None)
        else:
            private = jwk.generate(alg, rsa_bits=TEST_RSA_BITS)
            public = jwk.public_jwk(alg, private)
            kid = jwk.thumbprint(public)
            sealed = jwk.seal(private, MASTER.derive("key-encryption"), kid=kid, alg=alg)
            _SEEDS[alg] = StoredKey(kid, alg, 1, KEY_BIRTH, None, json.dumps(public), sealed)
    return _SEEDS[alg]


async def seeded_store(alg: str) -> MemoryKeyStore:
    store = MemoryKeyStore()
    assert await store.add(seed_key(alg))
    return store


async def make_service(
    clock: FrozenClock,
    alg: str = "EdDSA",
    engine: AsyncEngine | None = None,
    *,
    open_it: bool = True,
    families: FamilyStore | None = None,
    bus: RevocationBus | None = None,
    **overrides: Any,
) -> TokenService:
    """A TokenService on memory stores (pre-seeded key) or on `engine`; opened, no polls."""
    keys = await seeded_store(alg) if engine is None else None
    service = build_tokens(
        token_settings(alg, **overrides),
        MASTER,
        engine,
        clock,
        keys=keys,
        families=families,
        bus=bus,
        rsa_bits=TEST_RSA_BITS,
    )
    if open_it:
        await service.open(background=False)
    return service
