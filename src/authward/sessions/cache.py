"""A node's short memory of live sessions, in front of the shared SessionStore.

With many nodes, every cookie-authenticated request costs a round trip to the store
(Redis or the database). `CachedSessionStore` answers a session it read recently from
memory instead, and stays honest about logouts made anywhere:

* A session ended here (logout, sign out everywhere, a password change, the per-user
  limit) is forgotten here at once, and announced on the revocation bus: a ``session``
  event (its id digest) or a ``sessions`` event (every session of a user). Every node
  forgets it on delivery: within milliseconds through Redis, PostgreSQL's LISTEN/NOTIFY
  or the datagrams between the processes of one machine, within one
  ``AUTHWARD_REVOCATION_POLL_INTERVAL`` through the SQL table alone.
* Whatever happens to the bus, no entry is served once it is ``ttl`` old
  (``AUTHWARD_SESSION_CACHE_TTL``): that is the bound on how long a session ended on
  another node may still be accepted here.
* Only live sessions are kept. An unknown id always goes to the store, so a session
  started on another node works here at once; a copy past either of its deadlines is
  never served (another node may have slid it: the store knows).
* A read that overlaps the end of some session is not kept: it may predate that end.
* Requests that miss on the same session at once share one store read, unless some
  session ended after that read began: then a request reads for itself.
* Once a lookup has found a session live, `held` finds its entry by the session id itself,
  without hashing it again: that hash was most of what a cached request cost. The ids
  are kept in this process's memory only, and go with their entries (an end, an
  eviction, a stale copy dropped), as bearer tokens do from the token cache.

The cache is bounded (least recently used entries go first) and per process.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Final

from authward.clock import Clock
from authward.ids import UserId
from authward.revocation.bus import RevocationBus
from authward.revocation.list import Revocation, RevocationKind
from authward.sessions.models import Session
from authward.sessions.store import SessionStore

# How long the bus keeps an end-of-session event beyond the cache TTL: a node resyncing
# within it still hears of the end, after it no copy made before the end can be served.
EVENT_MARGIN: Final = timedelta(seconds=10)


class _Entry:
    """A kept session, served while `fresh_until` is ahead: one comparison a request."""

    __slots__ = ("fresh_until", "kept_until", "session", "session_id")

    def __init__(self, session: Session, kept_until: datetime, session_id: str | None) -> None:
        self.kept_until = kept_until  # when it was read, plus the cache TTL
        self.session_id = session_id  # once `remember` has been told it
        self.hold(session)

    def hold(self, session: Session) -> None:
        self.session = session
        self.fresh_until = min(
            self.kept_until, session.idle_expires_at, session.absolute_expires_at
        )


class CachedSessionStore:
    """A SessionStore that keeps recently read live sessions for at most `ttl`."""

    def __init__(
        self,
        store: SessionStore,
        bus: RevocationBus,
        clock: Clock,
        *,
        ttl: timedelta,
        max_entries: int = 10_000,
    ) -> None:
        if ttl <= timedelta(0) or max_entries < 1:
            raise ValueError("a session cache needs a positive TTL and size")
        self.store = store
        self._bus = bus
        self._clock = clock
        self._ttl = ttl
        self._max_entries = max_entries
        self._entries: OrderedDict[bytes, _Entry] = OrderedDict()
        self._by_user: dict[UserId, set[bytes]] = {}
        self._digests: dict[str, bytes] = {}  # session id → digest, for kept entries only
        self._endings = 0  # ends seen so far: a store read spanning one is not kept
        # Store reads in flight, by digest, with the count of ends when each began.
        self._reading: dict[bytes, tuple[int, asyncio.Future[Session | None]]] = {}
        bus.subscribe(self.hear)

    def __len__(self) -> int:
        return len(self._entries)

    async def add(self, session: Session) -> None:
        await self.store.add(session)
        self._keep(session, self._clock.now())

    def kept(self, id_digest: bytes, now: datetime) -> Session | None:
        """The kept copy of this session if it is still fresh at `now`; no I/O, no await."""
        if (entry := self._entries.get(id_digest)) is not None and now < entry.fresh_until:
            self._entries.move_to_end(id_digest)
            return entry.session
        return None

    def held(self, session_id: str, now: datetime) -> Session | None:
        """`kept`, by the session's id rather than its digest, once `remember` knows it."""
        id_digest = self._digests.get(session_id)
        return None if id_digest is None else self.kept(id_digest, now)

    def remember(self, session_id: str, id_digest: bytes) -> None:
        """Let `held` find the kept entry of this digest by its id (found live just now)."""
        entry = self._entries.get(id_digest)
        if entry is not None and entry.session_id is None:
            entry.session_id = session_id
            self._digests[session_id] = id_digest

    async def get(self, id_digest: bytes) -> Session | None:
        now = self._clock.now()
        if (kept := self.kept(id_digest, now)) is not None:
            return kept
        self._drop(id_digest)  # a stale copy, if there was one
        endings = self._endings
        reading = self._reading.get(id_digest)
        if reading is not None and reading[0] == endings:
            # The same session is being read already, and no session has ended since that
            # read began: its answer is as fresh as a read of our own, and one store read
            # serves every request that arrives meanwhile (not one read each, each time
            # the copy goes stale).
            return await asyncio.shield(reading[1])
        read = asyncio.ensure_future(self.store.get(id_digest))
        read.add_done_callback(_retrieved)
        self._reading[id_digest] = (endings, read)
        try:
            session = await asyncio.shield(read)  # a request that gives up leaves it to others
        finally:
            if self._reading.get(id_digest, (0, None))[1] is read:
                del self._reading[id_digest]
        if session is not None and endings == self._endings and not session.expired(now):
            self._keep(session, now)
        return session

    async def touch(self, id_digest: bytes, seen_at: datetime, idle_expires_at: datetime) -> None:
        await self.store.touch(id_digest, seen_at, idle_expires_at)
        # Our copy slides too, or every request would write the same touch again.
        if (entry := self._entries.get(id_digest)) is not None:
            entry.hold(
                replace(entry.session, last_seen_at=seen_at, idle_expires_at=idle_expires_at)
            )

    async def reauthenticate(
        self, id_digest: bytes, user_id: UserId, at: datetime
    ) -> Session | None:
        """Step-up in the store; this node's copy is the new record from the answer on.

        Other nodes may serve their copy, with the older auth time, for up to the cache
        TTL: that errs closed (a login looks less recent there, never more), so no event
        goes on the bus. Here the copy is replaced at once, and reads that overlap the
        write are not kept (`_endings`), or one of them could put the old copy back.
        """
        self._endings += 1
        try:
            session = await self.store.reauthenticate(id_digest, user_id, at)
        finally:
            self._endings += 1
        if session is None:
            self._drop(id_digest)
        else:
            self._keep(session, self._clock.now())
        return session

    async def remove(self, id_digest: bytes) -> bool:
        self._forget(id_digest)
        removed = await self.store.remove(id_digest)
        self._forget(id_digest)  # a read that began before the removal may have kept it
        if removed:
            await self._announce("session", id_digest.hex())
        return removed

    async def remove_by_handle(self, user_id: UserId, handle: str) -> bool:
        self._forget_user(user_id)
        removed = await self.store.remove_by_handle(user_id, handle)
        self._forget_user(user_id)
        if removed:
            await self._announce("sessions", user_id)
        return removed

    async def remove_user(self, user_id: UserId, *, keep: bytes | None = None) -> int:
        self._forget_user(user_id)
        removed = await self.store.remove_user(user_id, keep=keep)
        self._forget_user(user_id)
        if removed:
            await self._announce("sessions", user_id)
        return removed

    async def list_user(self, user_id: UserId) -> list[Session]:
        return await self.store.list_user(user_id)

    async def sweep(self, now: datetime) -> int:
        return await self.store.sweep(now)

    async def count(self) -> int:
        return await self.store.count()

    def hear(self, revocation: Revocation) -> None:
        """Forget what an end-of-session event names (the bus calls this on every node)."""
        if revocation.kind == "session":
            try:
                self._forget(bytes.fromhex(revocation.subject))
            except ValueError:
                return
        elif revocation.kind == "sessions":
            self._forget_user(revocation.subject)

    async def _announce(self, kind: RevocationKind, subject: str) -> None:
        now = self._clock.now()
        await self._bus.publish(Revocation(kind, subject, now, now + self._ttl + EVENT_MARGIN))

    def _keep(self, session: Session, now: datetime) -> None:
        digest = session.id_digest
        previous = self._entries.get(digest)
        session_id = None if previous is None else previous.session_id
        self._entries[digest] = _Entry(session, now + self._ttl, session_id)
        self._entries.move_to_end(digest)
        self._by_user.setdefault(session.user_id, set()).add(digest)
        while len(self._entries) > self._max_entries:
            oldest, entry = self._entries.popitem(last=False)
            self._unindex(oldest, entry)

    def _forget(self, id_digest: bytes) -> None:
        self._endings += 1
        self._drop(id_digest)

    def _forget_user(self, user_id: UserId) -> None:
        self._endings += 1
        for digest in self._by_user.get(user_id, set()).copy():
            self._drop(digest)

    def _drop(self, id_digest: bytes) -> None:
        if (entry := self._entries.pop(id_digest, None)) is not None:
            self._unindex(id_digest, entry)

    def _unindex(self, id_digest: bytes, entry: _Entry) -> None:
        """Remove every trace of an entry already taken out of `_entries`."""
        if entry.session_id is not None:
            self._digests.pop(entry.session_id, None)
        user_id = entry.session.user_id
        if (digests := self._by_user.get(user_id)) is not None:
            digests.discard(id_digest)
            if not digests:
                del self._by_user[user_id]


def _retrieved(read: asyncio.Future[Session | None]) -> None:
    # A read whose requests all gave up still ends; its error is nobody's to log.
    if not read.cancelled():
        read.exception()
