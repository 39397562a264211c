"""Where sessions live: the SessionStore port and its memory implementation."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Protocol

from authward.ids import UserId
from authward.sessions.models import Session


class SessionStore(Protocol):
    """Live sessions, keyed by the digest of their id; the id itself is never stored."""

    async def add(self, session: Session) -> None: ...

    async def get(self, id_digest: bytes) -> Session | None:
        """The session, expired or not: the service decides what an expired one means."""

    async def touch(self, id_digest: bytes, seen_at: datetime, idle_expires_at: datetime) -> None:
        """Slide the idle deadline; never re-create a session that is gone."""

    async def reauthenticate(
        self, id_digest: bytes, user_id: UserId, at: datetime
    ) -> Session | None:
        """Make `at` the auth time of the user's live session (step-up), in one write.

        The session keeps its methods and deadlines. None, changing nothing, when the
        session is gone, is another user's, or is past either deadline at `at`.
        """

    async def remove(self, id_digest: bytes) -> bool: ...

    async def remove_by_handle(self, user_id: UserId, handle: str) -> bool:
        """Remove the user's session with this public handle; False if it is not theirs."""

    async def remove_user(self, user_id: UserId, *, keep: bytes | None = None) -> int:
        """Remove every session of the user, except the one whose digest is `keep`."""

    async def list_user(self, user_id: UserId) -> list[Session]:
        """The user's sessions, oldest first."""

    async def sweep(self, now: datetime) -> int:
        """Remove every session expired at `now`; return how many went."""

    async def count(self) -> int: ...


class HeldSessions(Protocol):
    """A node's cache of live sessions, answering by session id without an await.

    Optional: the assembly hands it to `SessionService` beside the store it fronts (the
    same object, `CachedSessionStore`), so the hot path finds it without asking what the
    store is.
    """

    def held(self, session_id: str, now: datetime) -> Session | None:
        """A fresh kept copy of this session, once `remember` has been told its id."""

    def remember(self, session_id: str, id_digest: bytes) -> None:
        """Let `held` find the kept session of this digest by its id (found live just now)."""


class MemorySessionStore:
    """The reference store: a dict, for tests and single-process embedding."""

    def __init__(self) -> None:
        self._sessions: dict[bytes, Session] = {}  # no lock: no method awaits mid-update

    async def add(self, session: Session) -> None:
        self._sessions[session.id_digest] = session

    async def get(self, id_digest: bytes) -> Session | None:
        return self._sessions.get(id_digest)

    async def touch(self, id_digest: bytes, seen_at: datetime, idle_expires_at: datetime) -> None:
        # Never re-create: a late request must not revive a logged-out session (Django).
        if (session := self._sessions.get(id_digest)) is not None:
            self._sessions[id_digest] = replace(
                session, last_seen_at=seen_at, idle_expires_at=idle_expires_at
            )

    async def reauthenticate(
        self, id_digest: bytes, user_id: UserId, at: datetime
    ) -> Session | None:
        session = self._sessions.get(id_digest)
        if session is None or session.user_id != user_id or session.expired(at):
            return None
        self._sessions[id_digest] = session = replace(session, auth_time=at)
        return session

    async def remove(self, id_digest: bytes) -> bool:
        return self._sessions.pop(id_digest, None) is not None

    async def remove_by_handle(self, user_id: UserId, handle: str) -> bool:
        for digest, session in list(self._sessions.items()):
            if session.handle == handle and session.user_id == user_id:
                del self._sessions[digest]
                return True
        return False

    async def remove_user(self, user_id: UserId, *, keep: bytes | None = None) -> int:
        doomed = [d for d, s in self._sessions.items() if s.user_id == user_id and d != keep]
        for digest in doomed:
            del self._sessions[digest]
        return len(doomed)

    async def list_user(self, user_id: UserId) -> list[Session]:
        mine = [s for s in self._sessions.values() if s.user_id == user_id]
        return sorted(mine, key=lambda s: (s.created_at, s.handle))

    async def sweep(self, now: datetime) -> int:
        doomed = [d for d, s in self._sessions.items() if s.expired(now)]
        for digest in doomed:
            del self._sessions[digest]
        return len(doomed)

    async def count(self) -> int:
        return len(self._sessions)
