"""Refresh tokens: single use, reuse detection, the grace window, absolute lifetime, races.

Each test runs on the memory store, SQLite and PostgreSQL (the `engine` fixture).
"""

from __future__ import annotations

import asyncio
import hashlib
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from authward import crypto
from authward.clock import FrozenClock
from authward.errors import InvalidToken, RefreshReuse
from authward.ids import Device
from authward.tokens.service import TokenPair, TokenService
from authward.tokens.sql import SqlFamilyStore, refresh_families, refresh_spent
from authward.tokens.store import FamilyStore, MemoryFamilyStore, TokenLookup
from tests.tokens.factory import make_service

PHONE = Device("phone/1.0", "198.51.100.7")
THIEF = Device("curl/8", "203.0.113.66")


def family_store(engine: AsyncEngine | None) -> FamilyStore:
    return MemoryFamilyStore() if engine is None else SqlFamilyStore(engine)


async def build(clock: FrozenClock, engine: AsyncEngine | None, **kw: Any) -> TokenService:
    return await make_service(clock, engine=engine, families=family_store(engine), **kw)


async def test_refresh_token_is_single_use(engine: AsyncEngine | None, clock: FrozenClock) -> None:
    service = await build(clock, engine)
    first = await service.issue("user-1", PHONE)
    second = await service.refresh(first.refresh_token, PHONE)
    assert second.refresh_token != first.refresh_token
    assert second.family.id == first.family.id
    assert service.verify(second.access_token).sid == first.family.id
    with pytest.raises(InvalidToken):
        await service.refresh(first.refresh_token, PHONE)
    third = await service.refresh(second.refresh_token, PHONE)  # the family lives on
    assert third.family.id == first.family.id


async def test_reuse_revokes_the_family_and_its_access_tokens(
    engine: AsyncEngine | None, clock: FrozenClock
) -> None:
    service = await build(clock, engine)
    stolen = await service.issue("user-1", PHONE)
    clock.advance(10)
    legit = await service.refresh(stolen.refresh_token, PHONE)
    clock.advance(10)  # past the grace window
    with pytest.raises(RefreshReuse):
        await service.refresh(stolen.refresh_token, THIEF)
    with pytest.raises(InvalidToken):
        await service.refresh(legit.refresh_token, PHONE)
    for access in (stolen.access_token, legit.access_token):
        with pytest.raises(InvalidToken):
            service.verify(access)
    assert await service.list_families("user-1") == []


async def test_thief_first_then_owner_is_reuse_too(
    engine: AsyncEngine | None, clock: FrozenClock
) -> None:
    service = await build(clock, engine)
    stolen = await service.issue("user-1", PHONE)
    thief = await service.refresh(stolen.refresh_token, THIEF)
    clock.advance(60)
    with pytest.raises(RefreshReuse):
        await service.refresh(stolen.refresh_token, PHONE)
    with pytest.raises(InvalidToken):
        service.verify(thief.access_token)
    with pytest.raises(InvalidToken):
        await service.refresh(thief.refresh_token, THIEF)


async def test_grace_window_forgives_a_client_racing_itself(
    engine: AsyncEngine | None, clock: FrozenClock
) -> None:
    service = await build(clock, engine, refresh_grace=5)
    first = await service.issue("user-1", PHONE)
    second = await service.refresh(first.refresh_token, PHONE)
    clock.advance(4.9)
    with pytest.raises(InvalidToken) as caught:
        await service.refresh(first.refresh_token, PHONE)
    assert type(caught.value) is InvalidToken
    assert [f.id for f in await service.list_families("user-1")] == [first.family.id]
    service.verify(second.access_token)
    await service.refresh(second.refresh_token, PHONE)


async def test_grace_window_ends(engine: AsyncEngine | None, clock: FrozenClock) -> None:
    service = await build(clock, engine, refresh_grace=5)
    first = await service.issue("user-1", PHONE)
    await service.refresh(first.refresh_token, PHONE)
    clock.advance(5)
    with pytest.raises(RefreshReuse):
        await service.refresh(first.refresh_token, PHONE)


async def test_grace_window_does_not_cover_another_device(
    engine: AsyncEngine | None, clock: FrozenClock
) -> None:
    service = await build(clock, engine, refresh_grace=5)
    first = await service.issue("user-1", PHONE)
    await service.refresh(first.refresh_token, PHONE)
    with pytest.raises(RefreshReuse):
        await service.refresh(first.refresh_token, THIEF)


async def test_grace_window_covers_only_the_latest_spent_token(
    engine: AsyncEngine | None, clock: FrozenClock
) -> None:
    service = await build(clock, engine, refresh_grace=5)
    first = await service.issue("user-1", PHONE)
    second = await service.refresh(first.refresh_token, PHONE)
    await service.refresh(second.refresh_token, PHONE)
    with pytest.raises(RefreshReuse):
        await service.refresh(first.refresh_token, PHONE)


async def test_without_grace_any_repeat_is_reuse(
    engine: AsyncEngine | None, clock: FrozenClock
) -> None:
    service = await build(clock, engine, refresh_grace=0)
    first = await service.issue("user-1", PHONE)
    await service.refresh(first.refresh_token, PHONE)
    with pytest.raises(RefreshReuse):
        await service.refresh(first.refresh_token, PHONE)


async def test_family_lifetime_is_absolute(engine: AsyncEngine | None, clock: FrozenClock) -> None:
    service = await build(clock, engine, refresh_ttl=3600)
    pair = await service.issue("user-1", PHONE)
    ends = clock.now() + timedelta(seconds=3600)
    assert pair.family.expires_at == ends
    for _ in range(5):
        clock.advance(700)
        pair = await service.refresh(pair.refresh_token, PHONE)
        assert pair.family.expires_at == ends  # refreshing never slides it
    clock.set(ends)
    with pytest.raises(InvalidToken) as caught:
        await service.refresh(pair.refresh_token, PHONE)
    assert type(caught.value) is InvalidToken
    assert await service.list_families("user-1") == []


@pytest.mark.parametrize("token", ["", "short", "x" * 43 + "!", "é" * 43, "a" * 10_000])
async def test_malformed_and_unknown_tokens_are_invalid(
    engine: AsyncEngine | None, clock: FrozenClock, token: str
) -> None:
    service = await build(clock, engine)
    with pytest.raises(InvalidToken):
        await service.refresh(token, PHONE)
    with pytest.raises(InvalidToken):
        await service.refresh(crypto.new_token(), PHONE)


async def test_revoked_family_cannot_refresh(
    engine: AsyncEngine | None, clock: FrozenClock
) -> None:
    service = await build(clock, engine)
    pair = await service.issue("user-1", PHONE)
    await service.revoke_family(pair.family.id)
    with pytest.raises(InvalidToken):
        await service.refresh(pair.refresh_token, PHONE)


async def test_refresh_records_where_and_when(
    engine: AsyncEngine | None, clock: FrozenClock
) -> None:
    service = await build(clock, engine)
    pair = await service.issue("user-1", PHONE)
    clock.advance(30)
    moved = Device("phone/1.0", "192.0.2.200")
    refreshed = await service.refresh(pair.refresh_token, moved)
    (listed,) = await service.list_families("user-1")
    assert listed == refreshed.family
    assert (listed.last_seen_at, listed.device, listed.created_at) == (
        clock.now(), moved, pair.family.created_at,
    )  # fmt: skip


async def test_tokens_are_stored_as_digests_only(
    sql_engine: AsyncEngine, clock: FrozenClock
) -> None:
    service = await build(clock, sql_engine)
    first = await service.issue("user-1", PHONE)
    second = await service.refresh(first.refresh_token, PHONE)
    async with sql_engine.connect() as conn:
        family = (await conn.execute(select(refresh_families))).mappings().one()
        spent = (await conn.execute(select(refresh_spent))).mappings().one()
    assert bytes(family["current_digest"]) == hashlib.sha256(second.refresh_token.encode()).digest()
    assert bytes(spent["digest"]) == crypto.digest(first.refresh_token)
    flat = repr(dict(family)) + repr(dict(spent))
    assert first.refresh_token not in flat and second.refresh_token not in flat


class RacingStore:
    """Let `parties` rotations all see the token current before any of them swaps it."""

    def __init__(self, inner: FamilyStore, parties: int) -> None:
        self._inner = inner
        self._barrier = asyncio.Barrier(parties)
        self._waiting = parties

    async def find(self, token_digest: bytes) -> TokenLookup | None:
        found = await self._inner.find(token_digest)
        if self._waiting > 0:
            self._waiting -= 1
            await self._barrier.wait()
        return found

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


@pytest.mark.parametrize("grace", [5, 0])
async def test_racing_rotations_have_exactly_one_winner(
    engine: AsyncEngine | None, clock: FrozenClock, grace: int
) -> None:
    racers = 8
    store = RacingStore(family_store(engine), racers)
    service = await make_service(clock, engine=engine, families=store, refresh_grace=grace)
    store._waiting = 0  # the login itself does not race
    pair = await service.issue("user-1", PHONE)
    store._waiting = racers
    results = await asyncio.gather(
        *(service.refresh(pair.refresh_token, PHONE) for _ in range(racers)),
        return_exceptions=True,
    )
    winners = [r for r in results if isinstance(r, TokenPair)]
    losers = [r for r in results if not isinstance(r, TokenPair)]
    assert len(winners) == 1 and len(losers) == racers - 1
    assert all(isinstance(r, InvalidToken) for r in losers)
    if grace:  # the client raced itself: forgiven, the family lives on
        assert not any(isinstance(r, RefreshReuse) for r in losers)
        await service.refresh(winners[0].refresh_token, PHONE)
    else:  # no grace: the repeat is reuse, and the family is gone
        assert any(isinstance(r, RefreshReuse) for r in losers)
        with pytest.raises(InvalidToken):
            await service.refresh(winners[0].refresh_token, PHONE)


async def test_store_swap_is_atomic(engine: AsyncEngine | None, clock: FrozenClock) -> None:
    service = await build(clock, engine)
    pair = await service.issue("user-1", PHONE)
    store = service.refresh_tokens.store
    old = crypto.digest(pair.refresh_token)
    wins = await asyncio.gather(
        *(
            store.rotate(pair.family.id, old, crypto.digest(crypto.new_token()), clock.now(), PHONE)
            for _ in range(10)
        )
    )
    assert sorted(wins) == [False] * 9 + [True]


async def test_every_algorithm_issues_refreshes_and_revokes_on_reuse(
    service: TokenService, clock: FrozenClock
) -> None:
    first = await service.issue("user-1", PHONE)
    second = await service.refresh(first.refresh_token, PHONE)
    assert service.verify(second.access_token).sub == "user-1"
    clock.advance(6)
    with pytest.raises(RefreshReuse):
        await service.refresh(first.refresh_token, PHONE)
    with pytest.raises(InvalidToken):
        service.verify(second.access_token)


class CountingStore:
    def __init__(self, inner: FamilyStore) -> None:
        self._inner = inner
        self.lookups = 0

    async def find(self, token_digest: bytes) -> TokenLookup | None:
        self.lookups += 1
        return await self._inner.find(token_digest)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


@pytest.mark.parametrize(
    "token", ["", "x" * 42, "x" * 44, "x" * 42 + "=", "x" * 42 + "é", "a" * 10_000]
)
async def test_malformed_tokens_never_reach_the_store(clock: FrozenClock, token: str) -> None:
    store = CountingStore(MemoryFamilyStore())
    service = await make_service(clock, families=store)
    with pytest.raises(InvalidToken):
        await service.refresh(token, PHONE)
    assert store.lookups == 0
