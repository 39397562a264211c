"""A change and its notice mail are one transaction, on every store that writes one.

Each write that decides a change the account is told of (a password set, an email
changed, TOTP on or off, a set of recovery codes made or one spent, a passkey added or
removed, an operator's reset) takes `then`, and calls it once, in its own transaction,
when a row changed: the notice's outbox row commits with the change or neither does.
Real SQLite and PostgreSQL (and the memory stores, which call `then` after the change).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from authward import crypto
from authward.accounts.models import User
from authward.accounts.sql import SqlUserStore
from authward.accounts.store import MemoryUserStore
from authward.clock import FrozenClock
from authward.errors import EmailTaken, TooManyPasskeys
from authward.events import Then
from authward.factors.models import Passkey, RecoveryCode, TotpFactor
from authward.factors.passkey_sql import SqlPasskeyStore
from authward.factors.passkey_store import MemoryPasskeyStore
from authward.factors.sql import SqlFactorStore
from authward.factors.store import MemoryFactorStore
from authward.mail import Mail, MailQueue, MemoryOutbox, Renderer
from authward.mail.sql import SqlOutbox

KEY = bytes(range(32))
ADA = "ada"
SQL = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
NOTICE = Mail(
    "ada@example.com",
    "security_notice",
    {"email": "ada@example.com", "event": "Something about how you sign in changed."},
)


class Boom(Exception):
    pass


@dataclass
class Stores:
    users: Any  # authward's own user stores: they take `then` (NoticedPasswords, NoticedEmails)
    factors: Any
    passkeys: Any
    outbox: MailQueue


@pytest.fixture(params=["memory", *SQL])
def stores(request: pytest.FixtureRequest, clock: FrozenClock) -> Stores:
    return _stores(request, clock)


@pytest.fixture(params=SQL)
def sql_stores(request: pytest.FixtureRequest, clock: FrozenClock) -> Stores:
    return _stores(request, clock)


def _stores(request: pytest.FixtureRequest, clock: FrozenClock) -> Stores:
    if request.param == "memory":
        return Stores(
            MemoryUserStore(), MemoryFactorStore(), MemoryPasskeyStore(), MemoryOutbox(clock=clock)
        )
    engine: AsyncEngine = request.getfixturevalue(f"{request.param}_engine")
    return Stores(
        SqlUserStore(engine),
        SqlFactorStore(engine),
        SqlPasskeyStore(engine),
        SqlOutbox(engine, Renderer(), KEY, clock),
    )


def queue_notice(stores: Stores) -> Then:
    """The notice as the runtime's mailer queues it: in the transaction it is given."""

    async def then(within: Any) -> None:
        await stores.outbox.enqueue(NOTICE, within=within)

    return then


def passkey(clock: FrozenClock, credential_id: bytes | None = None) -> Passkey:
    return Passkey(
        id=crypto.new_handle(),
        user_id=ADA,
        credential_id=credential_id or os.urandom(32),
        public_key=b"cose-key",
        sign_count=0,
        name="Laptop",
        transports=("internal",),
        backup_eligible=True,
        backed_up=False,
        created_at=clock.now(),
    )


def totp(clock: FrozenClock) -> TotpFactor:
    return TotpFactor(ADA, b"sealed-secret", confirmed=False, last_step=-1, created_at=clock.now())


def codes(tag: str) -> list[RecoveryCode]:
    return [RecoveryCode(ADA, crypto.new_handle(), f"{tag}-{i}") for i in range(3)]


# --- the changes: how each is set up, made, seen, and tried again for nothing -----------

Step = Callable[[Stores, FrozenClock], Awaitable[object]]
Write = Callable[[Stores, FrozenClock, Then], Awaitable[object]]
Seen = Callable[[Stores], Awaitable[bool]]


@dataclass(frozen=True)
class Change:
    name: str
    setup: Step
    write: Write
    made: Seen  # whether the change is in the store
    again: Write | None = None  # the same write once more (or a miss): it changes no row


async def nothing(stores: Stores, clock: FrozenClock) -> None:
    return None


async def a_user(stores: Stores, clock: FrozenClock) -> None:
    await stores.users.add(User(ADA, "ada@example.com", "old-hash", clock.now()))


async def totp_pending(stores: Stores, clock: FrozenClock) -> None:
    assert await stores.factors.put_pending_totp(totp(clock))


async def totp_on(stores: Stores, clock: FrozenClock) -> None:
    await totp_pending(stores, clock)
    assert await stores.factors.confirm_totp(ADA, 10)


async def old_codes(stores: Stores, clock: FrozenClock) -> None:
    await stores.factors.replace_codes(ADA, codes("old"))


async def a_passkey(stores: Stores, clock: FrozenClock) -> None:
    assert await stores.passkeys.add(passkey(clock), limit=5)


async def totp_is(stores: Stores, confirmed: bool | None) -> bool:
    factor = await stores.factors.get_totp(ADA)
    return (None if factor is None else factor.confirmed) is confirmed


async def code_hashes(stores: Stores) -> set[str]:
    return {c.code_hash.split("-")[0] for c in await stores.factors.unused_codes(ADA)}


async def first_code(stores: Stores) -> str:
    return str((await stores.factors.unused_codes(ADA))[0].code_id)


async def password_set(stores: Stores) -> bool:
    return bool((await stores.users.get(ADA)).password_hash == "new-hash")


NEW_EMAIL = "ada@new.example"


async def move_email(stores: Stores, then: Then) -> bool:
    """The confirmed change of ada's address, conditional on the one it replaces."""
    moved: bool = await stores.users.change_email(
        ADA, NEW_EMAIL, expected="ada@example.com", then=then
    )
    return moved


async def email_moved(stores: Stores) -> bool:
    user = await stores.users.get_by_email(NEW_EMAIL)
    return user is not None and user.id == ADA


CHANGES = [
    Change(
        "password",
        a_user,
        lambda s, c, then: s.users.set_password_hash(ADA, "new-hash", then=then),
        password_set,
        lambda s, c, then: s.users.set_password_hash("nobody", "new-hash", then=then),
    ),
    Change(
        "email change",
        a_user,
        lambda s, c, then: move_email(s, then),
        email_moved,
        # The same confirmation again: the address is no longer the one it expects.
        lambda s, c, then: move_email(s, then),
    ),
    Change(
        "totp on",
        totp_pending,
        lambda s, c, then: s.factors.confirm_totp(ADA, 10, then=then),
        lambda s: totp_is(s, True),
        lambda s, c, then: s.factors.confirm_totp(ADA, 11, then=then),
    ),
    Change(
        "totp off",
        totp_on,
        lambda s, c, then: s.factors.remove_totp(ADA, then=then),
        lambda s: totp_is(s, None),
        lambda s, c, then: s.factors.remove_totp(ADA, then=then),
    ),
    Change(
        "new codes",
        old_codes,
        lambda s, c, then: s.factors.replace_codes(ADA, codes("new"), then=then),
        lambda s: _equal(code_hashes(s), {"new"}),
    ),
    Change(
        "code spent",
        old_codes,
        lambda s, c, then: _spend_first(s, c, then),
        lambda s: _equal(_count_codes(s), 2),
        lambda s, c, then: s.factors.spend_code(ADA, "no-such-code", c.now(), then=then),
    ),
    Change(
        "passkey added",
        nothing,
        lambda s, c, then: s.passkeys.add(passkey(c), limit=5, then=then),
        lambda s: _equal(_count_passkeys(s), 1),
        lambda s, c, then: s.passkeys.remove(ADA, "no-such-passkey", then=then),
    ),
    Change(
        "passkey removed",
        a_passkey,
        lambda s, c, then: _remove_first_passkey(s, then),
        lambda s: _equal(_count_passkeys(s), 0),
        lambda s, c, then: s.passkeys.remove("someone-else", "no-such-passkey", then=then),
    ),
    Change(
        "mfa reset",
        totp_on,
        lambda s, c, then: s.factors.remove_user(ADA, then=then),
        lambda s: totp_is(s, None),
    ),
]
IDS = [change.name for change in CHANGES]


async def _equal(value: Awaitable[object], expected: object) -> bool:
    return await value == expected


async def _count_codes(stores: Stores) -> int:
    return len(await stores.factors.unused_codes(ADA))


async def _count_passkeys(stores: Stores) -> int:
    return len(await stores.passkeys.of_user(ADA))


async def _spend_first(stores: Stores, clock: FrozenClock, then: Then) -> bool:
    spent: bool = await stores.factors.spend_code(
        ADA, await first_code(stores), clock.now(), then=then
    )
    return spent


async def _remove_first_passkey(stores: Stores, then: Then) -> bool:
    [first] = await stores.passkeys.of_user(ADA)
    removed: bool = await stores.passkeys.remove(ADA, first.id, then=then)
    return removed


# --- the contract ----------------------------------------------------------------------


@pytest.mark.parametrize("change", CHANGES, ids=IDS)
async def test_the_change_and_its_notice_commit_together(
    change: Change, stores: Stores, clock: FrozenClock
) -> None:
    await change.setup(stores, clock)
    await change.write(stores, clock, queue_notice(stores))
    assert await change.made(stores)
    [entry] = await stores.outbox.entries()
    assert (entry.to, entry.template, entry.state) == (NOTICE.to, NOTICE.template, "queued")


@pytest.mark.parametrize("change", CHANGES, ids=IDS)
async def test_a_notice_that_cannot_be_written_undoes_the_change(
    change: Change, sql_stores: Stores, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The outbox's own INSERT fails inside the change's transaction (its primary key is
    taken): the change is rolled back with it, and the error reaches the caller."""
    await change.setup(sql_stores, clock)
    monkeypatch.setattr("authward.mail.sql.new_handle", lambda: "taken-mail-id")
    await sql_stores.outbox.enqueue(NOTICE)  # the row whose id the notice then collides with
    with pytest.raises(IntegrityError):
        await change.write(sql_stores, clock, queue_notice(sql_stores))
    assert not await change.made(sql_stores)
    assert [e.id for e in await sql_stores.outbox.entries()] == ["taken-mail-id"]


@pytest.mark.parametrize("change", CHANGES, ids=IDS)
async def test_a_change_that_fails_after_its_notice_takes_the_notice_with_it(
    change: Change, sql_stores: Stores, clock: FrozenClock
) -> None:
    """The reverse: the notice's row is written, then the transaction fails before it
    commits: no mail is left for a change that did not happen."""
    await change.setup(sql_stores, clock)
    notice = queue_notice(sql_stores)

    async def then_fail(within: Any) -> None:
        await notice(within)
        raise Boom

    with pytest.raises(Boom):
        await change.write(sql_stores, clock, then_fail)
    assert not await change.made(sql_stores)
    assert await sql_stores.outbox.entries() == []


@pytest.mark.parametrize(
    "change", [c for c in CHANGES if c.again], ids=[c.name for c in CHANGES if c.again]
)
async def test_a_write_that_changes_no_row_queues_nothing(
    change: Change, stores: Stores, clock: FrozenClock
) -> None:
    await change.setup(stores, clock)
    await change.write(stores, clock, queue_notice(stores))
    assert change.again is not None
    await change.again(stores, clock, queue_notice(stores))
    assert len(await stores.outbox.entries()) == 1  # the change's own, and no other


async def test_a_passkey_refused_queues_nothing(stores: Stores, clock: FrozenClock) -> None:
    """A credential id already registered, or one passkey too many: no row, no notice."""
    taken = passkey(clock)
    assert await stores.passkeys.add(taken, limit=2)
    again = passkey(clock, credential_id=taken.credential_id)
    assert not await stores.passkeys.add(again, limit=2, then=queue_notice(stores))
    assert await stores.passkeys.add(passkey(clock), limit=2)
    with pytest.raises(TooManyPasskeys):
        await stores.passkeys.add(passkey(clock), limit=2, then=queue_notice(stores))
    assert await stores.outbox.entries() == []


async def test_an_email_change_refused_queues_nothing(stores: Stores, clock: FrozenClock) -> None:
    """The new address (or a look-alike of it) is another account's, or the account is
    gone: no row changes, no notice; and the email stays where it was."""
    await a_user(stores, clock)
    await stores.users.add(User("bob", "bob@example.com", "hash", clock.now()))
    for taken in ("bob@example.com", "b\u043eb@example.com"):  # a Cyrillic o
        with pytest.raises(EmailTaken):
            await stores.users.change_email(
                ADA, taken, expected="ada@example.com", then=queue_notice(stores)
            )
    changed = await stores.users.change_email(
        "nobody", NEW_EMAIL, expected="ada@example.com", then=queue_notice(stores)
    )
    assert not changed
    assert (await stores.users.get(ADA)).email == "ada@example.com"
    assert await stores.outbox.entries() == []


async def test_an_operators_reset_is_told_even_with_nothing_on(
    stores: Stores, clock: FrozenClock
) -> None:
    """`remove_user` tells of an operator's reset whatever it removed: the reset signs
    the account out everywhere too, which its owner hears of."""
    assert await stores.factors.remove_user(ADA, then=queue_notice(stores)) == 0
    assert len(await stores.outbox.entries()) == 1


# The changes that can happen once: a second write of the same change finds nothing to do.
ONCE_ONLY = ["email change", "totp on", "totp off", "code spent", "passkey removed"]


async def one_change(
    name: str, stores: Stores, clock: FrozenClock
) -> Callable[[Then], Awaitable[object]]:
    """Change `name`'s write, its target (the code, the passkey) chosen before any runs."""
    change = next(c for c in CHANGES if c.name == name)
    await change.setup(stores, clock)
    if name == "code spent":
        code_id = await first_code(stores)
        return lambda then: stores.factors.spend_code(ADA, code_id, clock.now(), then=then)
    if name == "passkey removed":
        [held] = await stores.passkeys.of_user(ADA)
        return lambda then: stores.passkeys.remove(ADA, held.id, then=then)
    return lambda then: change.write(stores, clock, then)


@pytest.mark.parametrize("name", ONCE_ONLY)
async def test_a_change_made_by_many_requests_at_once_is_told_once(
    name: str, stores: Stores, clock: FrozenClock
) -> None:
    """Ten requests make the same one-time change together (one recovery code sent twice,
    a double click): one of them makes it, and exactly one notice is queued."""
    write = await one_change(name, stores, clock)
    made = await asyncio.gather(*(write(queue_notice(stores)) for _ in range(10)))
    assert made.count(True) == 1
    assert len(await stores.outbox.entries()) == 1
