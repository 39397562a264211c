"""The LinkStore contract (mailed links: reset, verification, email change) on every
backend, and the user store's verified flag and email change."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from authward import crypto
from authward.accounts.link_sql import SqlLinkStore
from authward.accounts.links import Link, LinkStore, LinkTokens, MemoryLinkStore
from authward.accounts.models import User
from authward.accounts.store import UserStore
from authward.clock import FrozenClock
from authward.errors import EmailTaken, InvalidLink
from authward.storage.sql import create_engine
from tests.contracts.conftest import SQL_BACKENDS


class Boom(Exception):
    pass


@pytest.fixture(params=SQL_BACKENDS)
def link_store(request: pytest.FixtureRequest) -> LinkStore:
    if request.param == "memory":
        return MemoryLinkStore()
    engine: AsyncEngine = request.getfixturevalue(f"{request.param}_engine")
    return SqlLinkStore(engine)


@pytest.fixture(params=SQL_BACKENDS[1:])
def two_nodes(request: pytest.FixtureRequest) -> tuple[LinkStore, LinkStore]:
    """Two stores on one database through two engines (two connection pools): two nodes."""
    nodes: tuple[LinkStore, LinkStore] = request.getfixturevalue(f"{request.param}_nodes")
    return nodes


@pytest.fixture
async def sqlite_nodes(
    sqlite_engine: AsyncEngine, sqlite_dir: str
) -> AsyncIterator[tuple[LinkStore, LinkStore]]:
    async with _second_engine(f"sqlite:///{sqlite_dir}/authward.db") as second:
        yield SqlLinkStore(sqlite_engine), SqlLinkStore(second)


@pytest.fixture
async def postgres_nodes(
    postgres_engine: AsyncEngine, postgres_url: str
) -> AsyncIterator[tuple[LinkStore, LinkStore]]:
    async with _second_engine(postgres_url) as second:
        yield SqlLinkStore(postgres_engine), SqlLinkStore(second)


@asynccontextmanager
async def _second_engine(url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(url)
    try:
        yield engine
    finally:
        await engine.dispose()


def link(clock: FrozenClock, *, user: str = "u1", purpose: Any = "reset", ttl: int = 900) -> Link:
    token = crypto.new_token()
    return Link(
        crypto.digest(token), purpose, user, f"{user}@example.com", clock.now() + timedelta(0, ttl)
    )


async def nothing(_connection: object) -> None:
    return None


async def test_a_link_is_used_once(link_store: LinkStore, clock: FrozenClock) -> None:
    issued = link(clock)
    await link_store.replace(issued, nothing)
    got = await link_store.consume(issued.digest, ("reset",), clock.now())
    assert got is not None
    assert (got.user_id, got.email, got.purpose) == ("u1", "u1@example.com", "reset")
    assert got.expires_at == issued.expires_at
    assert await link_store.consume(issued.digest, ("reset",), clock.now()) is None


async def test_a_link_serves_its_purpose_only(link_store: LinkStore, clock: FrozenClock) -> None:
    issued = link(clock, purpose="verify")
    await link_store.replace(issued, nothing)
    assert await link_store.consume(issued.digest, ("reset",), clock.now()) is None
    assert await link_store.consume(issued.digest, ("email_change",), clock.now()) is None
    assert await link_store.consume(issued.digest, ("reset", "verify"), clock.now()) is not None


async def test_an_expired_link_is_refused_and_swept(
    link_store: LinkStore, clock: FrozenClock
) -> None:
    issued, live = link(clock, ttl=60), link(clock, user="u2", ttl=600)
    await link_store.replace(issued, nothing)
    await link_store.replace(live, nothing)
    clock.advance(60)
    assert await link_store.consume(issued.digest, ("reset",), clock.now()) is None
    assert await link_store.sweep(clock.now()) == 1
    assert await link_store.consume(live.digest, ("reset",), clock.now()) is not None


async def test_the_newest_link_voids_the_older(link_store: LinkStore, clock: FrozenClock) -> None:
    older, newer = link(clock), link(clock)
    other_purpose, other_user = link(clock, purpose="verify"), link(clock, user="u2")
    for each in (older, other_purpose, other_user, newer):
        await link_store.replace(each, nothing)
    assert await link_store.consume(older.digest, ("reset",), clock.now()) is None
    assert await link_store.consume(newer.digest, ("reset",), clock.now()) is not None
    assert await link_store.consume(other_purpose.digest, ("verify",), clock.now()) is not None
    assert await link_store.consume(other_user.digest, ("reset",), clock.now()) is not None


async def test_void_removes_the_users_links(link_store: LinkStore, clock: FrozenClock) -> None:
    reset, verify, other = link(clock), link(clock, purpose="verify"), link(clock, user="u2")
    for each in (reset, verify, other):
        await link_store.replace(each, nothing)
    assert await link_store.void("u1") == 2
    assert await link_store.consume(reset.digest, ("reset",), clock.now()) is None
    assert await link_store.consume(verify.digest, ("verify",), clock.now()) is None
    assert await link_store.consume(other.digest, ("reset",), clock.now()) is not None


async def test_a_failed_delivery_stores_nothing(link_store: LinkStore, clock: FrozenClock) -> None:
    """The mail and the link commit together: no link without its mail, and the older
    link it would have voided stays."""
    older, failed = link(clock), link(clock)
    await link_store.replace(older, nothing)

    async def refuse(_connection: object) -> None:
        raise Boom

    with pytest.raises(Boom):
        await link_store.replace(failed, refuse)
    assert await link_store.consume(failed.digest, ("reset",), clock.now()) is None
    assert await link_store.consume(older.digest, ("reset",), clock.now()) is not None


async def test_concurrent_uses_on_two_nodes_have_one_winner(
    two_nodes: tuple[LinkStore, LinkStore], clock: FrozenClock
) -> None:
    first, second = two_nodes
    for _ in range(5):
        issued = link(clock)
        await first.replace(issued, nothing)
        nodes = [first, second] * 4
        results = await asyncio.gather(
            *(node.consume(issued.digest, ("reset",), clock.now()) for node in nodes)
        )
        assert sum(result is not None for result in results) == 1


async def test_link_tokens_store_a_digest_and_refuse_any_unusable_token(
    link_store: LinkStore, clock: FrozenClock
) -> None:
    tokens = LinkTokens(link_store)
    user = User("u1", "u1@example.com", "hash", clock.now())
    mailed: list[str] = []

    async def deliver(token: str, _connection: object) -> None:
        mailed.append(token)

    await tokens.issue(user, "reset", expires_at=clock.now() + timedelta(0, 900), deliver=deliver)
    (token,) = mailed
    assert len(token) == 43  # 256 bits, URL-safe
    for bad in ("", "x" * 43, token[:-1], token + "A", token.replace(token[0], "\x00")):
        with pytest.raises(InvalidLink):
            await tokens.redeem(bad, ("reset",), clock.now())
    with pytest.raises(InvalidLink):
        await tokens.redeem(token, ("verify",), clock.now())
    redeemed = await tokens.redeem(token, ("reset",), clock.now())
    assert (redeemed.user_id, redeemed.email) == ("u1", "u1@example.com")
    with pytest.raises(InvalidLink):
        await tokens.redeem(token, ("reset",), clock.now())


# --- the user store's side: the verified flag and the email change ---------------------


async def test_email_verified_is_kept(user_store: UserStore, clock: FrozenClock) -> None:
    await user_store.add(User("u1", "a@example.com", "h", clock.now()))
    assert (await user_store.get("u1")).email_verified is False  # type: ignore[union-attr]
    await user_store.set_email_verified("u1")
    assert (await user_store.get("u1")).email_verified is True  # type: ignore[union-attr]


async def test_change_email_moves_the_account(user_store: UserStore, clock: FrozenClock) -> None:
    await user_store.add(User("u1", "a@example.com", "h", clock.now()))
    await user_store.add(User("u2", "b@example.com", "h", clock.now()))
    with pytest.raises(EmailTaken):
        await user_store.change_email("u1", "b@example.com", expected="a@example.com")
    with pytest.raises(EmailTaken):  # a look-alike (Cyrillic а) of another account's
        await user_store.change_email("u1", "b@exаmple.com", expected="a@example.com")
    assert not await user_store.change_email("u1", "c@example.com", expected="x@example.com")
    assert await user_store.change_email("u1", "c@example.com", expected="a@example.com")
    moved = await user_store.get_by_email("c@example.com")
    assert moved is not None and moved.id == "u1" and moved.email_verified
    assert await user_store.get_by_email("a@example.com") is None
    # The old address, and its look-alikes, are free again.
    await user_store.add(User("u3", "a@example.com", "h", clock.now()))
