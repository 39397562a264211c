"""The outbox: where a mail waits, durably, until a sender has handed it to SMTP.

Two roles. `Outbox` is what the concepts see: ``enqueue``, nothing else. `MailQueue` is
the whole store, for the sender, the sweep and ``authward mail``. `MemoryOutbox` is the
reference implementation of both (unit tests, memory stores); `authward.mail.sql` holds
the one on the database.

``within``: a SQL connection inside the caller's open transaction. A SQL outbox writes
its row there, so the mail exists exactly when the caller's change commits. It is typed
as SQLAlchemy's `AsyncConnection` for the type checker only (this module imports no
SQLAlchemy); the memory outbox has no transaction to join and ignores it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from authward.clock import Clock, SystemClock
from authward.crypto import new_handle
from authward.mail.message import Claimed, Entry, Mail, Rendered, State
from authward.mail.templates import Renderer, checked_renderer
from authward.metrics import MAIL_QUEUED

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection


class Outbox(Protocol):
    """Where the concepts queue mail."""

    async def enqueue(self, mail: Mail, *, within: AsyncConnection | None = None) -> None:
        """Queue `mail`. With `within` (a SQL connection inside an open transaction), the row is
        written in that transaction: it exists exactly when the caller's state change commits.

        The mail is rendered first: `MailTemplateError` (a missing template or value) raises
        here, before anything is written.
        """
        ...


class MailQueue(Outbox, Protocol):
    """The outbox as its sender and its operator see it.

    A mail is ``queued`` until a sender claims it; a claim holds until ``claimed_until``
    (the lease), after which another sender may take it (its first sender died). Then it
    is ``sent`` (its body erased) or, at last, ``failed``; or it is queued again.
    """

    async def claim(self, now: datetime, lease: timedelta, limit: int) -> list[Claimed]:
        """Take up to `limit` mails due at `now` that nobody holds, for `lease`; each counts
        one more attempt. Two senders at once never take the same mail."""
        ...

    async def delivered(self, mail_id: str, now: datetime) -> None:
        """Mark a claimed mail sent, and erase its body."""
        ...

    async def deferred(self, mail_id: str, retry_at: datetime, error: str) -> None:
        """Give a claimed mail back, due again at `retry_at`."""
        ...

    async def failed(self, mail_id: str, error: str) -> None:
        """Give up on a claimed mail (its body is kept, for ``authward mail retry``)."""
        ...

    async def unshown(self, now: datetime, limit: int) -> list[Claimed]:
        """Take up to `limit` queued mails never shown in the log, marking them shown: with
        no SMTP configured, each mail is logged once, by one node. Attempts are unchanged."""
        ...

    async def entries(self, state: State | None = None) -> list[Entry]:
        """Every mail (in `state`), oldest first; no body."""
        ...

    async def retry(self, mail_id: str, now: datetime) -> bool:
        """Queue a queued or failed mail again, due at once; False when there is no such
        mail, or it was sent (its body is gone)."""
        ...

    async def waiting(self) -> tuple[int, datetime | None]:
        """How many mails are queued, and when the oldest of them was."""
        ...

    async def prune(self, before: datetime) -> int:
        """Remove sent and failed mails created before `before`; return how many."""
        ...


@dataclass(frozen=True, slots=True)
class _Row:
    entry: Entry
    body: Rendered | None
    claimed_until: datetime | None = None
    shown: bool = False


class MemoryOutbox:
    """The reference outbox, in this process only. ``mails``: every mail queued, in order."""

    def __init__(self, renderer: Renderer | None = None, clock: Clock | None = None) -> None:
        self.mails: list[Mail] = []
        self._renderer = renderer or checked_renderer()
        self._clock = clock or SystemClock()
        self._rows: dict[str, _Row] = {}  # no lock: no method awaits mid-update

    def rendered(self, mail: Mail) -> Rendered:
        """What `mail` looks like with this outbox's templates (for tests)."""
        return self._renderer.render(mail)

    async def enqueue(self, mail: Mail, *, within: AsyncConnection | None = None) -> None:
        body = self._renderer.render(mail)
        now = self._clock.now()
        entry = Entry(new_handle(), mail.to, mail.template, "queued", 0, now, now)
        self._rows[entry.id] = _Row(entry, body)
        self.mails.append(mail)
        MAIL_QUEUED.inc()

    async def claim(self, now: datetime, lease: timedelta, limit: int) -> list[Claimed]:
        due = [
            row for row in self._queued() if row.entry.next_attempt_at <= now and _free(row, now)
        ]
        taken = []
        for row in sorted(due, key=lambda r: r.entry.next_attempt_at)[:limit]:
            entry = replace(row.entry, attempts=row.entry.attempts + 1)
            self._rows[entry.id] = replace(row, entry=entry, claimed_until=now + lease)
            taken.append(_claimed(entry, row.body))
        return taken

    async def delivered(self, mail_id: str, now: datetime) -> None:
        if (row := self._rows.get(mail_id)) is not None:
            entry = replace(row.entry, state="sent", sent_at=now, last_error=None)
            self._rows[mail_id] = _Row(entry, None)

    async def deferred(self, mail_id: str, retry_at: datetime, error: str) -> None:
        if (row := self._rows.get(mail_id)) is not None and row.entry.state == "queued":
            entry = replace(row.entry, next_attempt_at=retry_at, last_error=error)
            self._rows[mail_id] = replace(row, entry=entry, claimed_until=None)

    async def failed(self, mail_id: str, error: str) -> None:
        if (row := self._rows.get(mail_id)) is not None and row.entry.state == "queued":
            entry = replace(row.entry, state="failed", last_error=error)
            self._rows[mail_id] = replace(row, entry=entry, claimed_until=None)

    async def unshown(self, now: datetime, limit: int) -> list[Claimed]:
        rows = [row for row in self._queued() if not row.shown][:limit]
        for row in rows:
            self._rows[row.entry.id] = replace(row, shown=True)
        return [_claimed(row.entry, row.body) for row in rows]

    async def entries(self, state: State | None = None) -> list[Entry]:
        rows = [r.entry for r in self._rows.values() if state is None or r.entry.state == state]
        return sorted(rows, key=lambda e: (e.created_at, e.id))

    async def retry(self, mail_id: str, now: datetime) -> bool:
        row = self._rows.get(mail_id)
        if row is None or row.body is None or row.entry.state == "sent":
            return False
        entry = replace(row.entry, state="queued", next_attempt_at=now)
        self._rows[mail_id] = replace(row, entry=entry, claimed_until=None)
        return True

    async def waiting(self) -> tuple[int, datetime | None]:
        queued = [row.entry.created_at for row in self._queued()]
        return len(queued), min(queued, default=None)

    async def prune(self, before: datetime) -> int:
        old = [
            mail_id
            for mail_id, row in self._rows.items()
            if row.entry.state != "queued" and row.entry.created_at < before
        ]
        for mail_id in old:
            del self._rows[mail_id]
        return len(old)

    def _queued(self) -> list[_Row]:
        return [row for row in self._rows.values() if row.entry.state == "queued"]


def _free(row: _Row, now: datetime) -> bool:
    return row.claimed_until is None or row.claimed_until <= now


def _claimed(entry: Entry, body: Rendered | None) -> Claimed:
    assert body is not None  # noqa: S101  (a queued mail always has its body)
    return Claimed(entry.id, entry.to, entry.template, entry.attempts, entry.created_at, body)
