"""Start, resume and end sessions: every session rule of the contract lives here."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from authward import crypto
from authward.clock import Clock
from authward.csrf import DerivedCsrf
from authward.errors import NotAuthenticated, NotFound, SessionExpired
from authward.events import Events
from authward.ids import Device, UserId
from authward.metrics import SESSION_REVOKED
from authward.sessions.models import Session
from authward.sessions.store import HeldSessions, SessionStore


@dataclass(frozen=True, slots=True)
class SessionPolicy:
    idle_ttl: timedelta
    absolute_ttl: timedelta
    max_per_user: int

    @property
    def touch_interval(self) -> timedelta:
        """How stale `last_seen_at` may get before a request writes it again.

        Writing on every request would make each read a write; a tenth of the idle TTL
        (at most a minute) keeps the sliding deadline honest to within that much, and
        errs on the early side: a session may end up to this much sooner, never later.
        """
        return min(timedelta(seconds=60), self.idle_ttl / 10)


@dataclass(frozen=True, slots=True)
class StartedSession:
    session_id: str
    csrf_token: str
    session: Session


class SessionService:
    _cache: HeldSessions | None

    def __init__(
        self,
        store: SessionStore,
        policy: SessionPolicy,
        clock: Clock,
        *,
        csrf_key: bytes,
        events: Events | None = None,
        cache: HeldSessions | None = None,
    ) -> None:
        """`cache`, when given, is the node's session cache that `store` is (or stands
        behind): `held` answers from it. It never serves a copy past the session's own
        deadlines, so `held` need not check them again."""
        self.store = store
        self._cache = cache
        self.policy = policy
        self._touch_interval = policy.touch_interval  # once: `resume` runs on every request
        self._clock = clock
        self._csrf = DerivedCsrf(csrf_key)
        self.events = events or Events(clock)
        # Slides being written, by session digest: requests that find the same slide due
        # meanwhile share that write (see `_slide`).
        self._sliding: dict[bytes, asyncio.Future[None]] = {}

    @property
    def store(self) -> SessionStore:
        return self._store

    @store.setter
    def store(self, store: SessionStore) -> None:
        # A store set later replaces the cache too: copies kept in front of the old store
        # must not answer for the new one.
        self._store = store
        self._cache = None

    async def start(
        self, user_id: UserId, device: Device, *, amr: tuple[str, ...] = ("pwd",)
    ) -> StartedSession:
        """Start a session with a fresh id for a login authenticated by `amr` (now), ending
        the user's oldest ones past the limit."""
        now = self._clock.now()
        session_id = crypto.new_token()
        session = Session(
            id_digest=crypto.digest(session_id),
            handle=crypto.new_handle(),
            user_id=user_id,
            created_at=now,
            last_seen_at=now,
            idle_expires_at=min(now + self.policy.idle_ttl, now + self.policy.absolute_ttl),
            absolute_expires_at=now + self.policy.absolute_ttl,
            device=device,
            auth_time=now,
            amr=amr,
        )
        await self.store.add(session)
        await self._keep_to_limit(user_id)
        await self.events.emit(
            "login", user_id=user_id, via="session", handle=session.handle, device=device
        )
        return StartedSession(session_id, self.csrf_token(session_id), session)

    async def _keep_to_limit(self, user_id: UserId) -> None:
        """End the user's oldest sessions beyond the limit; run after every add.

        Trimming after the add, never before it, is what keeps the limit under concurrent
        logins (on one node or many) without a lock: the last login to list sees every
        session added before it, and every login orders them alike (oldest first, then
        by handle), so all of them end the same ones.
        """
        sessions = await self.store.list_user(user_id)  # expired ones too, till swept
        for oldest in sessions[: max(0, len(sessions) - self.policy.max_per_user)]:
            await self.store.remove(oldest.id_digest)

    def held(self, session_id: str) -> Session | None:
        """The session of this id as this process holds it fresh; no I/O, no await.

        None when there is no per-node cache, when it holds no fresh copy, or when the
        session's idle deadline is due to slide (a write): then `resume` decides.
        """
        if self._cache is None:
            return None
        now = self._clock.now()
        session = self._cache.held(session_id, now)
        if session is None or now - session.last_seen_at >= self._touch_interval:
            return None
        return session

    async def resume(self, session_id: str) -> Session:
        """Return the live session for this id, sliding its idle deadline.

        Raises NotAuthenticated for a malformed or unknown id (a malformed one is refused
        before any store lookup) and SessionExpired past either deadline.
        """
        if (session := self.held(session_id)) is not None:
            return session
        if not crypto.is_token_shaped(session_id):
            raise NotAuthenticated
        id_digest = crypto.digest(session_id)
        session = await self.store.get(id_digest)
        if session is None:
            raise NotAuthenticated
        now = self._clock.now()
        if session.expired(now):
            await self.store.remove(id_digest)
            raise SessionExpired
        if now - session.last_seen_at >= self._touch_interval:
            await self._slide(session, now)
        if self._cache is not None:
            self._cache.remember(session_id, id_digest)  # `held` answers it from now on
        return session

    async def _slide(self, session: Session, now: datetime) -> None:
        """Slide the session's idle deadline from `now`; one write for the requests that
        find it due at once.

        Until the write is done, every request of the session still finds the slide due
        (the store, or the cached copy, still has the old `last_seen_at`): under load, a
        write each for all of them, a stampede of writes for one session once a touch
        interval, every one of them queued on SQLite's single writer (32 writes and a
        600 ms stall behind them with 32 connections, benchmarks/README.md). They await
        the write already under way instead, and share its outcome: an error reaches each
        of them, as their own write's would have; the next request writes again.
        """
        digest = session.id_digest
        pending = self._sliding.get(digest)
        if pending is None or pending.done():
            idle_expires_at = min(now + self.policy.idle_ttl, session.absolute_expires_at)
            pending = asyncio.ensure_future(self.store.touch(digest, now, idle_expires_at))
            pending.add_done_callback(partial(self._written, digest))
            self._sliding[digest] = pending
        # Shielded: a request that gives up leaves the write to the others.
        await asyncio.shield(pending)

    def _written(self, digest: bytes, write: asyncio.Future[None]) -> None:
        if self._sliding.get(digest) is write:
            del self._sliding[digest]
        # A write whose requests all gave up still ends; its error is nobody's to log.
        if not write.cancelled():
            write.exception()

    async def reauthenticate(self, session_id: str, user_id: UserId) -> Session:
        """Step-up: the session's login is now; return the session as it now is.

        It keeps its methods (NIST SP 800-63B lets one factor reauthenticate a login of
        any level) and its deadlines. Raises NotAuthenticated when the session is not
        the user's or no longer live (ended, expired): nothing is written then.
        """
        if not crypto.is_token_shaped(session_id):
            raise NotAuthenticated
        at = self._clock.now()
        session = await self.store.reauthenticate(crypto.digest(session_id), user_id, at)
        if session is None:
            raise NotAuthenticated
        return session

    def csrf_token(self, session_id: str) -> str:
        """The CSRF token bound to this session: an HMAC of its id under the CSRF key.

        Deriving it (rather than storing it) means the store never holds it, and it
        changes with every new session id.
        """
        return self._csrf.token(session_id)

    def check_csrf(self, session_id: str, presented: str | None) -> None:
        """Raise CsrfRejected unless `presented` is this session's CSRF token."""
        self._csrf.check(session_id, presented)

    async def end(self, session_id: str) -> bool:
        """End the session with this id; True when there was one."""
        if not crypto.is_token_shaped(session_id):
            return False
        ended = await self.store.remove(crypto.digest(session_id))
        if ended:
            SESSION_REVOKED.inc()
        return ended

    async def log_out(self, session_id: str) -> bool:
        """End the session as its user's own act (the ``logout`` event); True if there was one."""
        if not crypto.is_token_shaped(session_id):
            return False
        session = await self.store.get(crypto.digest(session_id))
        if not await self.end(session_id) or session is None:
            return False
        await self.events.emit(
            "logout", user_id=session.user_id, via="session", handle=session.handle
        )
        return True

    async def end_by_handle(self, user_id: UserId, handle: str) -> None:
        """End one of the user's sessions by its public handle; NotFound if not theirs.

        A handle not shaped like ours is NotFound before any store lookup.
        """
        if not crypto.is_handle_shaped(handle):
            raise NotFound
        if not await self.store.remove_by_handle(user_id, handle):
            raise NotFound
        SESSION_REVOKED.inc()
        await self.events.emit("revoke", user_id=user_id, via="session", handle=handle)

    async def end_all(self, user_id: UserId, *, keep_session_id: str | None = None) -> int:
        """End every session of the user, except the one with `keep_session_id`."""
        keep = crypto.digest(keep_session_id) if keep_session_id else None
        ended = await self.store.remove_user(user_id, keep=keep)
        SESSION_REVOKED.inc(ended)
        return ended

    async def list_live(self, user_id: UserId) -> list[Session]:
        now = self._clock.now()
        return [s for s in await self.store.list_user(user_id) if not s.expired(now)]

    async def sweep(self) -> int:
        """Remove expired sessions: hygiene only, since every read checks expiry anyway."""
        return await self.store.sweep(self._clock.now())
