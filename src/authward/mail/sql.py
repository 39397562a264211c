"""The outbox in SQL (SQLite, PostgreSQL): the ``authward_mail_outbox`` table.

A mail's row is written in the caller's transaction when it gives one (``within``), so
the mail exists exactly when the change it announces commits. Its body is sealed
(`authward.mail.seal`) until it is sent, then erased; the row keeps the recipient, the
template, the state, the attempts and the times, for ``authward mail list``.

Claiming gives each due mail to one sender. On PostgreSQL one transaction selects the
due rows ``FOR UPDATE SKIP LOCKED`` (a row another sender is claiming is passed over, not
waited for) and stamps them with a lease, ``claimed_until``. On SQLite each candidate is
taken by one conditional UPDATE (due, and free or its lease over): SQLite has one writer
at a time, so of two senders exactly one changes the row. The lease is what holds after
the claim commits: a sender that dies mid-send frees its mails when the lease ends.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Final, cast

from sqlalchemy import (
    Boolean,
    Column,
    ColumnElement,
    Index,
    Integer,
    LargeBinary,
    Row,
    String,
    Table,
    and_,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from authward.clock import Clock
from authward.crypto import new_handle
from authward.mail.message import STATES, Claimed, Entry, Mail, State
from authward.mail.seal import BodySeal
from authward.mail.templates import Renderer
from authward.metrics import MAIL_QUEUED
from authward.storage.sql import UtcDateTime, metadata, translated_errors

ERROR_LENGTH: Final = 300

outbox = Table(
    "authward_mail_outbox",
    metadata,
    Column("id", String(16), primary_key=True),
    Column("recipient", String(320), nullable=False),
    Column("template", String(64), nullable=False),
    Column("state", String(8), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("next_attempt_at", UtcDateTime, nullable=False),
    Column("claimed_until", UtcDateTime, nullable=True),
    Column("shown", Boolean, nullable=False),
    Column("sent_at", UtcDateTime, nullable=True),
    Column("last_error", String(ERROR_LENGTH), nullable=True),
    Column("body", LargeBinary, nullable=True),  # sealed; NULL once sent
    Index("ix_authward_mail_outbox_due", "state", "next_attempt_at"),
    Index("ix_authward_mail_outbox_created_at", "created_at"),
)

_ENTRY_COLUMNS: Final = (
    outbox.c.id,
    outbox.c.recipient,
    outbox.c.template,
    outbox.c.state,
    outbox.c.attempts,
    outbox.c.created_at,
    outbox.c.next_attempt_at,
    outbox.c.sent_at,
    outbox.c.last_error,
)
_CLAIM_COLUMNS: Final = (
    outbox.c.id,
    outbox.c.recipient,
    outbox.c.template,
    outbox.c.attempts,
    outbox.c.created_at,
    outbox.c.body,
)


class SqlOutbox:
    """The outbox on the database: a `MailQueue`."""

    def __init__(self, engine: AsyncEngine, renderer: Renderer, key: bytes, clock: Clock) -> None:
        self._engine = engine
        self._renderer = renderer
        self._seal = BodySeal(key)
        self._clock = clock

    async def enqueue(self, mail: Mail, *, within: AsyncConnection | None = None) -> None:
        body = self._renderer.render(mail)  # before any write: a bad mail writes nothing
        mail_id = new_handle()
        now = self._clock.now()
        row = insert(outbox).values(
            id=mail_id,
            recipient=mail.to,
            template=mail.template,
            state="queued",
            attempts=0,
            created_at=now,
            next_attempt_at=now,
            shown=False,
            body=self._seal.seal(mail_id, body),
        )
        if within is not None:
            await within.execute(row)
        else:
            async with translated_errors(), self._engine.begin() as conn:
                await conn.execute(row)
        MAIL_QUEUED.inc()  # in `within`: written, whether the caller then commits or not

    async def claim(self, now: datetime, lease: timedelta, limit: int) -> list[Claimed]:
        due = and_(outbox.c.state == "queued", outbox.c.next_attempt_at <= now, _free(now))
        take = update(outbox).values(claimed_until=now + lease, attempts=outbox.c.attempts + 1)
        async with translated_errors(), self._engine.begin() as conn:
            candidates = select(outbox.c.id).where(due).order_by(outbox.c.next_attempt_at)
            if conn.dialect.name == "postgresql":
                locked = candidates.limit(limit).with_for_update(skip_locked=True)
                ids = list((await conn.execute(locked)).scalars())
                rows = list(
                    await conn.execute(take.where(outbox.c.id.in_(ids)).returning(*_CLAIM_COLUMNS))
                )
            else:
                # Candidates are read without a lock; each UPDATE checks again that the
                # row is still due and free, and SQLite's single writer makes it atomic.
                # Twice as many candidates as wanted: a sender that lost some to another
                # still fills its batch from the rest.
                rows = []
                for mail_id in list((await conn.execute(candidates.limit(2 * limit))).scalars()):
                    taken = await conn.execute(
                        take.where(outbox.c.id == mail_id, due).returning(*_CLAIM_COLUMNS)
                    )
                    rows.extend(taken)
                    if len(rows) == limit:
                        break
            return await self._opened(conn, rows)

    async def delivered(self, mail_id: str, now: datetime) -> None:
        await self._update(
            outbox.c.id == mail_id,
            state="sent",
            sent_at=now,
            body=None,
            claimed_until=None,
            last_error=None,
        )

    async def deferred(self, mail_id: str, retry_at: datetime, error: str) -> None:
        await self._update(
            and_(outbox.c.id == mail_id, outbox.c.state == "queued"),
            next_attempt_at=retry_at,
            claimed_until=None,
            last_error=error[:ERROR_LENGTH],
        )

    async def failed(self, mail_id: str, error: str) -> None:
        await self._update(
            and_(outbox.c.id == mail_id, outbox.c.state == "queued"),
            state="failed",
            claimed_until=None,
            last_error=error[:ERROR_LENGTH],
        )

    async def unshown(self, now: datetime, limit: int) -> list[Claimed]:
        unseen = and_(outbox.c.state == "queued", outbox.c.shown.is_(False))
        async with translated_errors(), self._engine.begin() as conn:
            candidates = select(outbox.c.id).where(unseen).order_by(outbox.c.created_at)
            rows: list[Row[Any]] = []
            for mail_id in list((await conn.execute(candidates.limit(limit))).scalars()):
                # Conditional: of two nodes, one marks the row (PostgreSQL re-checks the
                # condition after waiting for the other's row lock), and only it logs.
                mark = update(outbox).where(outbox.c.id == mail_id, unseen).values(shown=True)
                rows.extend(await conn.execute(mark.returning(*_CLAIM_COLUMNS)))
            return await self._opened(conn, rows)

    async def entries(self, state: State | None = None) -> list[Entry]:
        query = select(*_ENTRY_COLUMNS).order_by(outbox.c.created_at, outbox.c.id)
        if state is not None:
            query = query.where(outbox.c.state == state)
        async with translated_errors(), self._engine.connect() as conn:
            return [_entry(row) for row in await conn.execute(query)]

    async def retry(self, mail_id: str, now: datetime) -> bool:
        again = and_(outbox.c.id == mail_id, outbox.c.state != "sent", outbox.c.body.is_not(None))
        return (
            await self._update(again, state="queued", next_attempt_at=now, claimed_until=None) == 1
        )

    async def waiting(self) -> tuple[int, datetime | None]:
        query = select(func.count(), func.min(outbox.c.created_at)).where(
            outbox.c.state == "queued"
        )
        async with translated_errors(), self._engine.connect() as conn:
            count, oldest = (await conn.execute(query)).one()
        return int(count), oldest

    async def prune(self, before: datetime) -> int:
        old = and_(outbox.c.state.in_(["sent", "failed"]), outbox.c.created_at < before)
        async with translated_errors(), self._engine.begin() as conn:
            result = await conn.execute(delete(outbox).where(old))
        return int(result.rowcount or 0)

    async def _update(self, condition: ColumnElement[bool], **values: object) -> int:
        async with translated_errors(), self._engine.begin() as conn:
            result = await conn.execute(update(outbox).where(condition).values(**values))
        return int(result.rowcount or 0)

    async def _opened(self, conn: AsyncConnection, rows: Sequence[Row[Any]]) -> list[Claimed]:
        """The claimed rows with their bodies opened; one that does not open (sealed under
        another master secret, or altered) fails at once: no retry would open it."""
        claimed = []
        for row in rows:
            try:
                body = self._seal.open(row.id, row.body)
            except (ValueError, TypeError):
                unusable = update(outbox).where(outbox.c.id == row.id)
                await conn.execute(
                    unusable.values(
                        state="failed", claimed_until=None, last_error="body unreadable"
                    )
                )
                continue
            claimed.append(
                Claimed(row.id, row.recipient, row.template, row.attempts, row.created_at, body)
            )
        return claimed


def _free(now: datetime) -> ColumnElement[bool]:
    return or_(outbox.c.claimed_until.is_(None), outbox.c.claimed_until <= now)


def _entry(row: Any) -> Entry:  # a row of _ENTRY_COLUMNS
    state = cast(State, row.state if row.state in STATES else "failed")
    return Entry(
        id=row.id,
        to=row.recipient,
        template=row.template,
        state=state,
        attempts=row.attempts,
        created_at=row.created_at,
        next_attempt_at=row.next_attempt_at,
        sent_at=row.sent_at,
        last_error=row.last_error,
    )
