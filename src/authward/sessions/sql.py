"""Sessions in SQL (SQLite or PostgreSQL): the embedded default, survives restarts."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Column,
    Index,
    LargeBinary,
    String,
    Table,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncEngine

from authward.assurance import amr_of, amr_text
from authward.ids import Device, UserId
from authward.pacing import DEFAULT_PACING, Pacing
from authward.sessions.models import Session
from authward.storage.reads import RowReader
from authward.storage.sql import UtcDateTime, metadata, storable_text, translated_errors

sessions = Table(
    "authward_sessions",
    metadata,
    Column("id_digest", LargeBinary(32), primary_key=True),
    Column("handle", String(32), nullable=False, unique=True),
    Column("user_id", String(36), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("last_seen_at", UtcDateTime, nullable=False),
    Column("idle_expires_at", UtcDateTime, nullable=False, index=True),
    Column("absolute_expires_at", UtcDateTime, nullable=False, index=True),
    Column("user_agent", String(512), nullable=False, default=""),
    Column("ip", String(64), nullable=False, default=""),
    # How the login authenticated (migration 0008_second_factors).
    Column("auth_time", UtcDateTime, nullable=True),
    Column("amr", String(32), nullable=False, server_default="pwd"),
)
Index("ix_authward_sessions_user_created", sessions.c.user_id, sessions.c.created_at)


def _row(session: Session) -> dict[str, Any]:
    return {
        "id_digest": session.id_digest,
        "handle": session.handle,
        "user_id": session.user_id,
        "created_at": session.created_at,
        "last_seen_at": session.last_seen_at,
        "idle_expires_at": session.idle_expires_at,
        "absolute_expires_at": session.absolute_expires_at,
        "user_agent": session.device.user_agent,
        "ip": session.device.ip,
        "auth_time": session.auth_time,
        "amr": amr_text(session.amr),
    }


def _session(row: Mapping[str, Any] | RowMapping) -> Session:
    # Positional, in the fields' order: every request without a session cache builds
    # one, and ten keyword arguments cost a third of building it.
    return Session(
        bytes(row["id_digest"]),
        row["handle"],
        row["user_id"],
        row["created_at"],
        row["last_seen_at"],
        row["idle_expires_at"],
        row["absolute_expires_at"],
        Device(row["user_agent"], row["ip"]),
        row["auth_time"],
        amr_of(row["amr"]),
    )


class SqlSessionStore:
    """Sessions as rows; expiry columns are indexed so the sweep is a range delete."""

    def __init__(self, engine: AsyncEngine, *, pacing: Pacing = DEFAULT_PACING) -> None:
        self._engine = engine
        self._pacing = pacing
        # Every request without a session cache makes this read: one hop (storage.reads).
        self._read = RowReader(
            engine, select(sessions).where(sessions.c.id_digest == bindparam("id_digest"))
        )

    async def add(self, session: Session) -> None:
        async with translated_errors(), self._engine.begin() as conn:
            await conn.execute(insert(sessions).values(**_row(session)))

    async def get(self, id_digest: bytes) -> Session | None:
        row = await self._read.one(id_digest=id_digest)
        return None if row is None else _session(row)

    async def touch(self, id_digest: bytes, seen_at: datetime, idle_expires_at: datetime) -> None:
        # UPDATE, never upsert: a touch racing a logout must not bring the session back.
        statement = (
            update(sessions)
            .where(sessions.c.id_digest == id_digest)
            .values(last_seen_at=seen_at, idle_expires_at=idle_expires_at)
        )
        async with translated_errors(), self._engine.begin() as conn:
            await conn.execute(statement)

    async def reauthenticate(
        self, id_digest: bytes, user_id: UserId, at: datetime
    ) -> Session | None:
        # UPDATE ... RETURNING: only a live session of this user, and the row as it now is.
        statement = (
            update(sessions)
            .where(sessions.c.id_digest == id_digest, sessions.c.user_id == user_id)
            .where(sessions.c.idle_expires_at > at, sessions.c.absolute_expires_at > at)
            .values(auth_time=at)
            .returning(*sessions.c)
        )
        async with translated_errors(), self._engine.begin() as conn:
            row = (await conn.execute(statement)).mappings().first()
        return None if row is None else _session(row)

    async def remove(self, id_digest: bytes) -> bool:
        return await self._delete(sessions.c.id_digest == id_digest) > 0

    async def remove_by_handle(self, user_id: UserId, handle: str) -> bool:
        if not storable_text(handle):
            return False
        return await self._delete(sessions.c.handle == handle, sessions.c.user_id == user_id) > 0

    async def remove_user(self, user_id: UserId, *, keep: bytes | None = None) -> int:
        conditions: list[Any] = [sessions.c.user_id == user_id]
        if keep is not None:
            conditions.append(sessions.c.id_digest != keep)
        return await self._delete(*conditions)

    async def list_user(self, user_id: UserId) -> list[Session]:
        query = (
            select(sessions)
            .where(sessions.c.user_id == user_id)
            .order_by(sessions.c.created_at, sessions.c.handle)
        )
        async with translated_errors(), self._engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [_session(row) for row in rows]

    async def sweep(self, now: datetime) -> int:
        # Paced batches, each its own short transaction: a sweep of a million rows never
        # holds the write lock long enough to stall logins (SQLite has one writer), and
        # rests between batches so requests keep the CPU and the database (pacing.py).
        expired = or_(sessions.c.idle_expires_at <= now, sessions.c.absolute_expires_at <= now)

        async def step(limit: int) -> int:
            batch = select(sessions.c.id_digest).where(expired).limit(limit)
            return await self._delete(sessions.c.id_digest.in_(batch.scalar_subquery()))

        return await self._pacing.run(step)

    async def count(self) -> int:
        async with translated_errors(), self._engine.connect() as conn:
            result = await conn.execute(select(func.count()).select_from(sessions))
            return int(result.scalar_one())

    async def _delete(self, *conditions: Any) -> int:
        async with translated_errors(), self._engine.begin() as conn:
            result = await conn.execute(delete(sessions).where(*conditions))
        return int(result.rowcount or 0)
