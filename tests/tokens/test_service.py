"""The facade: revocation by family, by user and by handle; listing; sweeping; lifecycle."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from authward.clock import FrozenClock
from authward.errors import InvalidToken, NotFound, StoreUnavailable
from authward.ids import Device
from authward.runtime import build_tokens
from authward.tokens.service import TokenService
from authward.tokens.store import MemoryKeyStore
from tests.tokens.factory import MASTER, make_service, token_settings

PHONE = Device("phone/1.0", "198.51.100.7")
LAPTOP = Device("laptop/2.0", "198.51.100.8")


async def test_revoke_family_stops_its_tokens_at_once(
    engine: AsyncEngine | None, clock: FrozenClock
) -> None:
    service = await make_service(clock, engine=engine)
    phone = await service.issue("user-1", PHONE)
    refreshed = await service.refresh(phone.refresh_token, PHONE)
    laptop = await service.issue("user-1", LAPTOP)
    await service.revoke_family(phone.family.id)
    for token in (phone.access_token, refreshed.access_token):
        with pytest.raises(InvalidToken):
            service.verify(token)
    with pytest.raises(InvalidToken):
        await service.refresh(refreshed.refresh_token, PHONE)
    service.verify(laptop.access_token)
    assert [f.id for f in await service.list_families("user-1")] == [laptop.family.id]
    await service.revoke_family(phone.family.id)  # again: harmless


async def test_revoke_user_ends_every_family(
    engine: AsyncEngine | None, clock: FrozenClock
) -> None:
    service = await make_service(clock, engine=engine)
    pairs = [await service.issue("user-1", d) for d in (PHONE, LAPTOP)]
    other = await service.issue("user-2", PHONE)
    await service.revoke_user("user-1")
    for pair in pairs:
        with pytest.raises(InvalidToken):
            service.verify(pair.access_token)
        with pytest.raises(InvalidToken):
            await service.refresh(pair.refresh_token, PHONE)
    service.verify(other.access_token)
    assert await service.list_families("user-1") == []


async def test_logging_in_again_in_the_same_second_works(
    engine: AsyncEngine | None, clock: FrozenClock
) -> None:
    clock.advance(0.2)
    service = await make_service(clock, engine=engine)
    before = await service.issue("user-1", PHONE)
    clock.advance(0.3)
    await service.revoke_user("user-1")
    clock.advance(0.3)  # the same second: iat cannot tell these tokens apart
    after = await service.issue("user-1", PHONE)
    assert service.verify(after.access_token).iat == service.verify(after.access_token).iat
    with pytest.raises(InvalidToken):
        service.verify(before.access_token)
    assert service.verify(after.access_token).sub == "user-1"
    service.verify((await service.refresh(after.refresh_token, PHONE)).access_token)


async def test_revoke_user_can_keep_the_current_family(
    engine: AsyncEngine | None, clock: FrozenClock
) -> None:
    service = await make_service(clock, engine=engine)
    current = await service.issue("user-1", PHONE)
    other = await service.issue("user-1", LAPTOP)
    clock.advance(5)
    await service.revoke_user("user-1", keep_family=current.family.id)
    service.verify(current.access_token)  # issued in an earlier second, and still good
    with pytest.raises(InvalidToken):
        service.verify(other.access_token)
    assert [f.id for f in await service.list_families("user-1")] == [current.family.id]


async def test_user_cutoff_catches_tokens_of_families_nobody_listed(clock: FrozenClock) -> None:
    service = await make_service(clock)
    pair = await service.issue("user-1", PHONE)
    clock.advance(2)
    # A family this node's store does not know (another node's, say): the cutoff still holds.
    await service.refresh_tokens.store.revoke(pair.family.id, clock.now())
    await service.revoke_user("user-1")
    assert not service.revocations.is_revoked(pair.family.id, "nobody", pair.family.created_at)
    with pytest.raises(InvalidToken):
        service.verify(pair.access_token)


async def test_list_families_is_live_only_oldest_first(
    engine: AsyncEngine | None, clock: FrozenClock
) -> None:
    service = await make_service(clock, engine=engine, refresh_ttl=600)
    first = await service.issue("user-1", PHONE)
    clock.advance(100)
    second = await service.issue("user-1", LAPTOP)
    clock.advance(100)
    third = await service.issue("user-1", LAPTOP)
    await service.revoke_family(second.family.id)
    assert [f.id for f in await service.list_families("user-1")] == [
        first.family.id,
        third.family.id,
    ]
    clock.advance(400)  # the first family's 600 s are over
    assert [f.id for f in await service.list_families("user-1")] == [third.family.id]


async def test_revoke_by_handle_only_for_the_owner(
    engine: AsyncEngine | None, clock: FrozenClock
) -> None:
    service = await make_service(clock, engine=engine)
    mine = await service.issue("user-1", PHONE)
    with pytest.raises(NotFound):
        await service.revoke_by_handle("user-2", mine.family.id)
    service.verify(mine.access_token)
    with pytest.raises(NotFound):
        await service.revoke_by_handle("user-1", "no-such-family")
    await service.revoke_by_handle("user-1", mine.family.id)
    with pytest.raises(InvalidToken):
        service.verify(mine.access_token)
    with pytest.raises(NotFound):
        await service.revoke_by_handle("user-1", mine.family.id)


async def test_sweep_drops_what_can_no_longer_matter(
    engine: AsyncEngine | None, clock: FrozenClock
) -> None:
    service = await make_service(clock, engine=engine, refresh_ttl=600)
    expiring = await service.issue("user-1", PHONE)
    await service.refresh(expiring.refresh_token, PHONE)
    revoked = await service.issue("user-2", PHONE)
    await service.revoke_family(revoked.family.id)
    await service.revoke_user("user-3")
    assert await service.sweep() == 1  # the revoked family (its revocation is still needed)
    clock.advance(600)
    assert await service.sweep() >= 2  # the expired family, the revocations
    assert len(service.revocations) == 0
    assert await service.bus.resync() == []
    live = await service.issue("user-1", PHONE)
    assert await service.sweep() == 0
    service.verify(live.access_token)


async def test_pair_repr_hides_the_tokens(service: TokenService) -> None:
    pair = await service.issue("user-1", PHONE)
    assert pair.access_token not in repr(pair) and pair.refresh_token not in repr(pair)
    assert "material" not in repr(service.ring.signing_key())


async def test_login_without_a_signing_key_is_unavailable(clock: FrozenClock) -> None:
    service = await make_service(clock, open_it=False)
    with pytest.raises(StoreUnavailable):
        await service.issue("user-1", PHONE)
    assert await service.list_families("user-1") == []


async def test_stale_revocation_feed_fails_closed_and_heals(
    clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = build_tokens(token_settings(), MASTER, None, clock, keys=MemoryKeyStore())
    await service.open(background=True)
    try:
        token = (await service.issue("user-1", PHONE)).access_token
        service.verify(token)
        stale = time.monotonic() + 3600
        monkeypatch.setattr("authward.tokens.service.time.monotonic", lambda: stale)
        with pytest.raises(StoreUnavailable):
            service.verify(token)
        with pytest.raises(InvalidToken):
            service.verify("not-a-token")  # a bad token is still a 401, not a 503
        await service.sync_revocations()
        service.verify(token)
    finally:
        await service.close()
    assert service.verify(token).sub == "user-1"  # closed: nothing polls, nothing is stale


async def test_issue_and_verify_over_time(clock: FrozenClock) -> None:
    service = await make_service(clock)
    pair = await service.issue("user-1", PHONE)
    for _ in range(10):
        clock.advance(timedelta(seconds=250))
        pair = await service.refresh(pair.refresh_token, PHONE)
        service.verify(pair.access_token)
