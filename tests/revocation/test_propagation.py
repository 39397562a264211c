"""Two processes on one database (``authward serve --workers N``): revocations and key
rotations made by one are in force in the other after its next poll."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from authward.clock import FrozenClock
from authward.errors import InvalidToken
from authward.ids import Device
from authward.revocation.sql import LOOKBACK_POLLS, revocations
from authward.runtime import build_tokens
from authward.tokens.service import TokenService
from tests.tokens.factory import MASTER, TEST_RSA_BITS, token_settings

PHONE = Device("phone/1.0", "198.51.100.7")


def worker(engine: AsyncEngine, clock: FrozenClock, **kw: float) -> TokenService:
    return build_tokens(token_settings(), MASTER, engine, clock, rsa_bits=TEST_RSA_BITS, **kw)  # type: ignore[arg-type]


async def test_revocation_in_one_worker_reaches_the_other_by_poll(
    sql_engine: AsyncEngine, clock: FrozenClock
) -> None:
    one, two = worker(sql_engine, clock), worker(sql_engine, clock)
    await one.open(background=False)
    await two.open(background=False)
    pair = await one.issue("user-1", PHONE)
    two.verify(pair.access_token)
    await one.revoke_family(pair.family.id)
    with pytest.raises(InvalidToken):
        one.verify(pair.access_token)  # at once where it was revoked
    two.verify(pair.access_token)  # not yet polled: verify does no I/O
    await two.sync_revocations()
    with pytest.raises(InvalidToken):
        two.verify(pair.access_token)


async def test_reuse_detected_in_one_worker_reaches_the_other(
    sql_engine: AsyncEngine, clock: FrozenClock
) -> None:
    one, two = worker(sql_engine, clock), worker(sql_engine, clock)
    await one.open(background=False)
    await two.open(background=False)
    first = await one.issue("user-1", PHONE)
    second = await two.refresh(first.refresh_token, PHONE)
    clock.advance(10)
    with pytest.raises(InvalidToken):
        await one.refresh(first.refresh_token, PHONE)
    await two.sync_revocations()
    with pytest.raises(InvalidToken):
        two.verify(second.access_token)


async def test_logout_everywhere_reaches_a_worker_started_later(
    sql_engine: AsyncEngine, clock: FrozenClock
) -> None:
    one = worker(sql_engine, clock)
    await one.open(background=False)
    pair = await one.issue("user-1", PHONE)
    await one.revoke_user("user-1")
    late = worker(sql_engine, clock)
    await late.open(background=False)  # resync at start
    with pytest.raises(InvalidToken):
        late.verify(pair.access_token)


async def test_background_poll_delivers_within_the_interval(
    sql_engine: AsyncEngine, clock: FrozenClock
) -> None:
    one = worker(sql_engine, clock)
    two = build_tokens(
        token_settings(revocation_poll_interval=0.01), MASTER, sql_engine, clock,
        rsa_bits=TEST_RSA_BITS,
    )  # fmt: skip
    await one.open(background=False)
    await two.open(background=True)
    try:
        pair = await one.issue("user-1", PHONE)
        two.verify(pair.access_token)
        arrived = asyncio.Event()
        two.bus.subscribe(lambda r: arrived.set())
        await one.revoke_family(pair.family.id)
        await asyncio.wait_for(arrived.wait(), timeout=10)
        with pytest.raises(InvalidToken):
            two.verify(pair.access_token)
    finally:
        await two.close()


async def test_a_worker_keeps_what_it_knew_when_the_table_goes_backwards(
    sql_engine: AsyncEngine, clock: FrozenClock
) -> None:
    """Issue 14: after the table restarts its ids, revocations still reach the other worker,
    and the one the table lost still holds there (fail closed)."""
    one, two = worker(sql_engine, clock), worker(sql_engine, clock)
    await one.open(background=False)
    await two.open(background=False)
    lost, later = await one.issue("user-1", PHONE), await one.issue("user-2", PHONE)
    await one.revoke_family(lost.family.id)
    for _ in range(LOOKBACK_POLLS):
        await two.sync_revocations()
    async with sql_engine.begin() as conn:
        await conn.run_sync(revocations.drop)
        await conn.run_sync(revocations.create)  # as if restored from an older backup
    await one.revoke_family(later.family.id)
    await two.sync_revocations()
    for pair in (lost, later):
        with pytest.raises(InvalidToken):
            two.verify(pair.access_token)
