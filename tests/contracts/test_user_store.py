"""The UserStore contract, run against every implementation (see conftest.py).

A store keys accounts by id and by the normalised email (`normalize_email`), compared as
strings: normalising is the account service's work, so a store finds exactly the key it
is given. Emails here differ by more than a look-alike letter, so a store that also
refuses look-alikes keeps to this contract as it is.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from authward.accounts.emails import lookup_key, normalize_email
from authward.accounts.models import User
from authward.accounts.store import UserStore
from authward.clock import FrozenClock
from authward.errors import EmailTaken

HASH = "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"


def make_user(email: str, created_at: datetime, *, disabled: bool = False) -> User:
    return User(
        id=str(uuid.uuid4()),
        email=normalize_email(email),
        password_hash=HASH,
        created_at=created_at,
        disabled=disabled,
    )


async def test_add_then_get_by_id_and_by_email_return_the_same_user(
    user_store: UserStore, clock: FrozenClock
) -> None:
    clock.advance(timedelta(microseconds=654_321))  # timestamps round-trip to the microsecond
    user = make_user("Zoë.Ñandú@Exämple.org", clock.now(), disabled=True)
    await user_store.add(user)
    assert await user_store.get(user.id) == user
    assert await user_store.get_by_email(user.email) == user


async def test_unknown_id_or_email_finds_nobody(user_store: UserStore, clock: FrozenClock) -> None:
    user = make_user("alice@example.com", clock.now())
    await user_store.add(user)
    assert await user_store.get(str(uuid.uuid4())) is None
    assert await user_store.get(user.email) is None  # an email is not an id
    assert await user_store.get_by_email("bob@example.com") is None
    assert await user_store.get_by_email(user.id) is None  # nor an id an email
    assert await user_store.get_by_email("x" * 400 + "@example.com") is None


async def test_the_email_is_found_by_its_normalised_form_only(
    user_store: UserStore, clock: FrozenClock
) -> None:
    user = make_user("Ａlice@Example.COM", clock.now())
    assert user.email == "alice@example.com"
    await user_store.add(user)
    # The store compares strings: a form the service did not normalise is nobody's...
    for raw in (
        "Alice@example.com",
        "ALICE@EXAMPLE.COM",
        "Ａlice@example.com",
        " alice@example.com",
    ):
        assert await user_store.get_by_email(raw) is None
        # ...and the lookup key the service makes of it is this account's.
        assert await user_store.get_by_email(lookup_key(raw) or "") == user


async def test_a_taken_email_is_refused_and_the_account_kept(
    user_store: UserStore, clock: FrozenClock
) -> None:
    first = make_user("alice@example.com", clock.now())
    await user_store.add(first)
    clock.advance(1)
    second = make_user("ALICE@example.com", clock.now())
    with pytest.raises(EmailTaken):
        await user_store.add(second)
    assert await user_store.get_by_email(first.email) == first
    assert await user_store.get(second.id) is None
    assert await user_store.list() == [first]


async def test_of_two_adds_of_one_email_at_once_exactly_one_wins(
    user_store: UserStore, clock: FrozenClock
) -> None:
    rivals = [make_user("alice@example.com", clock.now()) for _ in range(2)]
    answers = await asyncio.gather(
        *(user_store.add(user) for user in rivals), return_exceptions=True
    )
    assert sorted(type(answer).__name__ for answer in answers) == ["EmailTaken", "NoneType"]
    winner = rivals[answers.index(None)]
    loser = rivals[1 - answers.index(None)]
    assert await user_store.get_by_email("alice@example.com") == winner
    assert await user_store.get(loser.id) is None
    assert await user_store.list() == [winner]


async def test_set_password_hash_changes_that_users_hash_only(
    user_store: UserStore, clock: FrozenClock
) -> None:
    alice, bob = make_user("alice@example.com", clock.now()), make_user("bob@x.org", clock.now())
    await user_store.add(alice)
    await user_store.add(bob)
    await user_store.set_password_hash(alice.id, "$argon2id$new")
    assert await user_store.get(alice.id) == replace(alice, password_hash="$argon2id$new")
    assert await user_store.get_by_email(alice.email) == replace(
        alice, password_hash="$argon2id$new"
    )
    assert await user_store.get(bob.id) == bob


async def test_set_password_hash_of_an_unknown_id_creates_nobody(
    user_store: UserStore, clock: FrozenClock
) -> None:
    unknown = str(uuid.uuid4())
    await user_store.set_password_hash(unknown, "$argon2id$new")
    assert await user_store.get(unknown) is None
    assert await user_store.list() == []


async def test_set_disabled_sets_the_flag_both_ways_and_tells_whether_the_user_exists(
    user_store: UserStore, clock: FrozenClock
) -> None:
    alice, bob = make_user("alice@example.com", clock.now()), make_user("bob@x.org", clock.now())
    await user_store.add(alice)
    await user_store.add(bob)
    assert await user_store.set_disabled(alice.id, True)
    assert await user_store.get_by_email(alice.email) == replace(alice, disabled=True)
    assert await user_store.set_disabled(alice.id, True)  # already so: still found
    assert await user_store.set_disabled(alice.id, False)
    assert await user_store.get(alice.id) == alice
    assert await user_store.get(bob.id) == bob
    unknown = str(uuid.uuid4())
    assert not await user_store.set_disabled(unknown, True)
    assert await user_store.get(unknown) is None


async def test_list_is_oldest_first_then_by_id_in_pages(
    user_store: UserStore, clock: FrozenClock
) -> None:
    start = clock.now()
    # Ten accounts, three of them created in the same microsecond: the id breaks the tie.
    users = [make_user(f"user{i:02d}@example.com", start + timedelta(minutes=i)) for i in range(7)]
    users += [make_user(f"same{i:02d}@example.com", start + timedelta(minutes=3)) for i in range(3)]
    expected = sorted(users, key=lambda u: (u.created_at, u.id))
    shuffled = users[:]
    random.shuffle(shuffled)
    for user in shuffled:
        await user_store.add(user)
    assert await user_store.list() == expected
    assert await user_store.list(limit=4) == expected[:4]
    assert await user_store.list(limit=4, offset=4) == expected[4:8]
    assert await user_store.list(limit=4, offset=8) == expected[8:]
    assert await user_store.list(offset=10) == []
    assert await user_store.list(limit=0) == []


async def test_list_of_an_empty_store_is_empty(user_store: UserStore) -> None:
    assert await user_store.list() == []


async def test_remove_deletes_that_user_only_and_frees_the_email(
    user_store: UserStore, clock: FrozenClock
) -> None:
    alice, bob = make_user("alice@example.com", clock.now()), make_user("bob@x.org", clock.now())
    await user_store.add(alice)
    await user_store.add(bob)
    assert await user_store.remove(alice.id)
    assert await user_store.get(alice.id) is None
    assert await user_store.get_by_email(alice.email) is None
    assert await user_store.list() == [bob]
    assert not await user_store.remove(alice.id)
    again = make_user("alice@example.com", clock.now())
    await user_store.add(again)  # the email, and its look-alike skeleton, are free again
    assert await user_store.get_by_email(alice.email) == again
