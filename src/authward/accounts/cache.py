"""A node's memory of accounts, in front of the UserStore, kept true by the revocation bus.

`Authward.current_account` and ``GET /auth/me`` hand over the account behind a caller:
read from the store on every request, that read would cost more than the whole rest of
the request. `CachedUserStore` keeps the `Account` (never the `User`: no password hash)
of each user it read lately, and answers a repeat caller from memory:

* Every write through it (a disable or an enable, a password change, and whatever write
  the UserStore protocol gains) forgets the account here and announces an ``account``
  event on the revocation bus, which every node hears: within milliseconds through
  Redis, within one ``AUTHWARD_REVOCATION_POLL_INTERVAL`` through the SQL table.
* Whatever happens to the bus, no entry is served once it is ``ttl`` old
  (``AUTHWARD_ACCOUNT_CACHE_TTL``): the bound for a change the bus never carried (a
  lost message, an edit of the users table behind authward's back).
* A read that overlaps a change of any account is not kept: it may predate the change.
* Logins, password checks and every other read of the `UserStore` protocol go to the
  store: only `account` answers from memory.

The cache is bounded (least recently used entries go first) and per process.
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import datetime, timedelta
from typing import Final, cast

from authward.accounts.models import Account, User
from authward.accounts.store import NoticedEmails, NoticedPasswords, UserStore
from authward.clock import Clock
from authward.events import Then
from authward.ids import UserId
from authward.revocation.bus import RevocationBus
from authward.revocation.list import Revocation

# How long the bus keeps an ``account`` event beyond the cache TTL: a node resyncing
# within it still hears of the change; after it, no copy made before the change is served.
EVENT_MARGIN: Final = timedelta(seconds=10)


class CachedUserStore:
    """A UserStore that keeps the accounts it read for at most `ttl`, and tells every
    node when one changes."""

    def __init__(
        self,
        store: UserStore,
        bus: RevocationBus,
        clock: Clock,
        *,
        ttl: timedelta,
        max_entries: int = 10_000,
    ) -> None:
        if ttl <= timedelta(0) or max_entries < 1:
            raise ValueError("an account cache needs a positive TTL and size")
        self.store = store
        self._bus = bus
        self._clock = clock
        self._ttl = ttl
        self._max_entries = max_entries
        self._entries: OrderedDict[UserId, tuple[Account, datetime]] = OrderedDict()
        self._changes = 0  # changes heard so far: a store read spanning one is not kept
        bus.subscribe(self.hear)

    def __len__(self) -> int:
        return len(self._entries)

    # --- the account, from memory when it can -------------------------------------------

    def kept(self, user_id: UserId) -> Account | None:
        """The kept account of this user while it is fresh; no I/O, no await."""
        entry = self._entries.get(user_id)
        if entry is None:
            return None
        if self._clock.now() >= entry[1]:
            del self._entries[user_id]
            return None
        self._entries.move_to_end(user_id)
        return entry[0]

    async def account(self, user_id: UserId) -> Account | None:
        """The account of this user, from memory or read (and kept); None if there is none."""
        if (account := self.kept(user_id)) is not None:
            return account
        changes = self._changes
        user = await self.store.get(user_id)
        if user is None:
            return None  # not kept: an id that names nobody costs its caller the read
        account = user.account
        if changes == self._changes:
            self._keep(account)
        return account

    def hear(self, revocation: Revocation) -> None:
        """Forget the account an ``account`` event names (the bus calls this on every node)."""
        if revocation.kind == "account":
            self._forget(revocation.subject)

    # --- the UserStore protocol: reads go to the store, writes are announced -------------

    async def add(self, user: User) -> None:
        await self.store.add(user)  # a new id: no node can have kept it

    async def get(self, user_id: UserId) -> User | None:
        return await self.store.get(user_id)

    async def get_by_email(self, email: str) -> User | None:
        return await self.store.get_by_email(email)

    async def set_password_hash(
        self, user_id: UserId, password_hash: str, *, then: Then | None = None
    ) -> None:
        if then is None:
            await self.store.set_password_hash(user_id, password_hash)
        else:  # given only over authward's own stores (`NoticedPasswords`)
            await cast(NoticedPasswords, self.store).set_password_hash(
                user_id, password_hash, then=then
            )
        await self._changed(user_id)

    async def set_disabled(self, user_id: UserId, disabled: bool) -> bool:
        found = await self.store.set_disabled(user_id, disabled)
        if found:
            await self._changed(user_id)
        return found

    async def set_email_verified(self, user_id: UserId) -> None:
        await self.store.set_email_verified(user_id)
        await self._changed(user_id)

    async def change_email(
        self, user_id: UserId, email: str, *, expected: str, then: Then | None = None
    ) -> bool:
        if then is None:
            changed = await self.store.change_email(user_id, email, expected=expected)
        else:  # given only over authward's own stores (`NoticedEmails`)
            noticed = cast(NoticedEmails, self.store)
            changed = await noticed.change_email(user_id, email, expected=expected, then=then)
        if changed:
            await self._changed(user_id)
        return changed

    async def list(self, *, limit: int = 100, offset: int = 0) -> list[User]:
        return await self.store.list(limit=limit, offset=offset)

    async def remove(self, user_id: UserId) -> bool:
        removed = await self.store.remove(user_id)
        if removed:
            await self._changed(user_id)
        return removed

    # --- inside ----------------------------------------------------------------------------

    async def _changed(self, user_id: UserId) -> None:
        """Forget the account here at once, then on every node through the bus."""
        self._forget(user_id)  # after the write: a read that began before it is not kept
        now = self._clock.now()
        await self._bus.publish(Revocation("account", user_id, now, now + self._ttl + EVENT_MARGIN))

    def _keep(self, account: Account) -> None:
        self._entries[account.id] = (account, self._clock.now() + self._ttl)
        self._entries.move_to_end(account.id)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)

    def _forget(self, user_id: UserId) -> None:
        self._changes += 1
        self._entries.pop(user_id, None)
