"""The account cache: a repeat caller's account costs no store read, and no change made
through authward outlives its announcement on the revocation bus, on any node."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

from authward.accounts.cache import CachedUserStore
from authward.accounts.models import Account, User
from authward.accounts.store import MemoryUserStore
from authward.clock import FrozenClock
from authward.ids import Device, UserId
from authward.revocation.bus import LocalRevocationBus
from authward.revocation.list import Revocation
from authward.runtime import build_runtime
from authward.settings import Settings
from tests.conftest import http_client

TTL = timedelta(seconds=30)
PASSWORD = "correct horse battery staple"
DEVICE = Device(user_agent="test", ip="192.0.2.1")


class CountingStore(MemoryUserStore):
    """The memory store, counting the reads `account` may make (`get`)."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0
        self.gate: asyncio.Event | None = None  # when set, a read waits for it

    async def get(self, user_id: UserId) -> User | None:
        self.reads += 1
        user = await super().get(user_id)  # what the store held when the read began
        if self.gate is not None:
            await self.gate.wait()
        return user


def make_user(clock: FrozenClock, user_id: str = "ada", email: str = "ada@example.com") -> User:
    return User(UserId(user_id), email, "$argon2id$not-a-real-hash", clock.now())


def make_cache(clock: FrozenClock) -> tuple[CachedUserStore, CountingStore, list[Revocation]]:
    bus = LocalRevocationBus()
    heard: list[Revocation] = []
    bus.subscribe(heard.append)
    store = CountingStore()
    return CachedUserStore(store, bus, clock, ttl=TTL), store, heard


async def test_a_repeat_caller_costs_no_store_read(clock: FrozenClock) -> None:
    cache, store, _ = make_cache(clock)
    user = make_user(clock)
    await cache.add(user)
    first = await cache.account(user.id)
    assert first == Account(user.id, user.email, user.created_at, disabled=False)
    for _ in range(5):
        assert await cache.account(user.id) is first
        assert cache.kept(user.id) is first
    assert store.reads == 1
    assert await cache.account(UserId("nobody")) is None
    assert await cache.account(UserId("nobody")) is None
    assert store.reads == 3  # an id that names nobody is not kept


async def test_every_write_forgets_the_account_and_announces_it(clock: FrozenClock) -> None:
    cache, store, heard = make_cache(clock)
    user = make_user(clock)
    await cache.add(user)
    writes = {
        "set_disabled": lambda: cache.set_disabled(user.id, True),
        "enable": lambda: cache.set_disabled(user.id, False),
        "set_password_hash": lambda: cache.set_password_hash(user.id, "$argon2id$another"),
        "set_email_verified": lambda: cache.set_email_verified(user.id),
        "change_email": lambda: cache.change_email(user.id, "ada@new.example", expected=user.email),
        "change_email back": lambda: cache.change_email(
            user.id, user.email, expected="ada@new.example"
        ),
    }
    for name, write in writes.items():
        await cache.account(user.id)
        heard.clear()
        await write()
        assert cache.kept(user.id) is None, name
        assert [(r.kind, r.subject) for r in heard] == [("account", user.id)], name
        assert heard[0].until >= clock.now() + TTL, name  # a node resyncing meanwhile hears it
    # Enabled again, read anew (and verified now).
    assert (await cache.account(user.id)) == replace(user.account, email_verified=True)
    await cache.account(user.id)
    heard.clear()
    assert await cache.remove(user.id)
    assert cache.kept(user.id) is None
    assert [(r.kind, r.subject) for r in heard] == [("account", user.id)]
    assert not await cache.set_disabled(UserId("nobody"), True)
    assert heard[-1].subject == user.id  # nothing to announce for nobody


async def test_a_change_heard_from_another_node_is_no_longer_kept(clock: FrozenClock) -> None:
    cache, store, _ = make_cache(clock)
    ada, bob = make_user(clock), make_user(clock, "bob", "bob@example.com")
    for user in (ada, bob):
        await cache.add(user)
        await cache.account(user.id)
    await store.set_disabled(ada.id, True)  # another node's write: this node's store alone
    assert cache.kept(ada.id) == ada.account
    cache.hear(Revocation("account", ada.id, clock.now(), clock.now() + TTL))
    assert cache.kept(ada.id) is None
    assert (await cache.account(ada.id)) == replace(ada.account, disabled=True)
    assert cache.kept(bob.id) == bob.account  # another user's stays
    cache.hear(Revocation("sessions", bob.id, clock.now(), clock.now() + TTL))
    assert cache.kept(bob.id) == bob.account  # the end of sessions is no account change


async def test_no_account_is_served_past_the_ttl(clock: FrozenClock) -> None:
    cache, store, _ = make_cache(clock)
    user = make_user(clock)
    await cache.add(user)
    await cache.account(user.id)
    await store.set_disabled(user.id, True)  # a change the bus never carried
    clock.advance(TTL - timedelta(microseconds=1))
    assert cache.kept(user.id) == user.account
    clock.advance(timedelta(microseconds=1))
    assert cache.kept(user.id) is None
    assert (await cache.account(user.id)) == replace(user.account, disabled=True)


async def test_a_read_that_overlaps_a_change_is_not_kept(clock: FrozenClock) -> None:
    cache, store, _ = make_cache(clock)
    user = make_user(clock)
    await cache.add(user)
    store.gate = asyncio.Event()
    reading = asyncio.ensure_future(cache.account(user.id))
    await asyncio.sleep(0)  # the read has begun, with the account as it was
    store.gate.set()
    store.gate = None
    await cache.set_disabled(user.id, True)
    assert (await reading) == user.account  # the old answer, for the request that asked
    assert cache.kept(user.id) is None  # but not kept for the next ones
    assert (await cache.account(user.id)).disabled  # type: ignore[union-attr]


async def test_the_cache_is_bounded(clock: FrozenClock) -> None:
    bus = LocalRevocationBus()
    cache = CachedUserStore(CountingStore(), bus, clock, ttl=TTL, max_entries=2)
    users = [make_user(clock, f"u{i}", f"u{i}@example.com") for i in range(3)]
    for user in users:
        await cache.add(user)
        await cache.account(user.id)
    assert len(cache) == 2
    assert cache.kept(users[0].id) is None  # the least recently used went first


async def test_a_disable_on_one_node_reaches_the_others_through_the_bus(
    settings: Settings, clock: FrozenClock
) -> None:
    """Two nodes on one database and its polled revocation table, as `authward serve`
    workers are: node B keeps ada's account; node A disables her and changes bob's
    password; B's next poll of the bus forgets both, and B's /auth/me refuses her."""
    a = build_runtime(settings, clock=clock)
    b = build_runtime(settings, clock=clock)
    await a.open(background=False)
    await b.open(background=False)
    try:
        ada = await a.accounts.register("ada@example.com", PASSWORD)
        bob = await a.accounts.register("bob@example.com", PASSWORD)
        issued = await b.tokens.issue(ada.id, DEVICE)
        async with http_client(b) as client:
            bearer = {"Authorization": f"Bearer {issued.access_token}"}
            me = await client.get("/auth/me", headers=bearer)
            assert me.status_code == 200 and me.json()["email"] == "ada@example.com"
            assert b.accounts.kept_account(ada.id) == ada.account
            assert (await b.accounts.account(bob.id)) == bob.account

            await a.accounts.set_disabled(ada.id, True)  # the account alone: tokens stay
            await a.lifecycle.change_password(bob.id, PASSWORD, PASSWORD + "!")
            assert b.accounts.kept_account(ada.id) == ada.account  # B has not polled yet
            await b.bus.sync()
            assert b.accounts.kept_account(ada.id) is None
            assert b.accounts.kept_account(bob.id) is None
            refused = await client.get("/auth/me", headers=bearer)
            assert refused.status_code == 401, refused.text
    finally:
        await b.close()
        await a.close()


async def test_the_cache_can_be_turned_off(tmp_path: object, clock: FrozenClock) -> None:
    from tests.conftest import make_settings

    runtime = build_runtime(make_settings(tmp_path, account_cache_ttl=0), clock=clock)
    await runtime.open(background=False)
    try:
        ada = await runtime.accounts.register("ada@example.com", PASSWORD)
        assert (await runtime.accounts.account(ada.id)) == ada.account
        assert runtime.accounts.kept_account(ada.id) is None
        await runtime.accounts.set_disabled(ada.id, True)
        assert (await runtime.accounts.account(ada.id)) == replace(ada.account, disabled=True)
    finally:
        await runtime.close()


async def test_me_answers_from_the_cache(settings: Settings, clock: FrozenClock) -> None:
    runtime = build_runtime(settings, clock=clock)
    await runtime.open(background=False)
    try:
        ada = await runtime.accounts.register("ada@example.com", PASSWORD)
        issued = await runtime.tokens.issue(ada.id, DEVICE)
        bearer = {"Authorization": f"Bearer {issued.access_token}"}
        async with http_client(runtime) as client:
            assert (await client.get("/auth/me", headers=bearer)).status_code == 200
            cache = runtime.accounts.users
            assert isinstance(cache, CachedUserStore)
            # The store itself now changes behind the cache's back: /auth/me does not see it.
            await cache.store.set_disabled(ada.id, True)
            assert (await client.get("/auth/me", headers=bearer)).status_code == 200
            await runtime.accounts.set_disabled(ada.id, True)  # through authward: at once
            assert (await client.get("/auth/me", headers=bearer)).status_code == 401
    finally:
        await runtime.close()
