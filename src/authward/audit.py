"""The audit log: every security event, one row each, in the authward database.

Subscribed to `Events` by default (``AUTHWARD_AUDIT_LOG``), read by ``authward audit``,
pruned by the sweep after ``AUTHWARD_AUDIT_RETENTION_DAYS``. A row holds what an
`AuthEvent` holds and nothing more: time, event, user id, strategy, public handle,
client address and user agent. No email, password, token, session id or digest.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Column, Integer, String, Table, delete, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from authward.events import AuthEvent
from authward.storage.sql import UtcDateTime, metadata, translated_errors

__all__ = ["AuditRecord", "SqlAuditLog", "audit_log"]

audit_log = Table(
    "authward_audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", UtcDateTime, nullable=False, index=True),
    Column("event", String(32), nullable=False),
    Column("user_id", String(64), nullable=True, index=True),
    Column("via", String(8), nullable=True),
    Column("handle", String(64), nullable=True),
    Column("ip", String(64), nullable=False),
    Column("user_agent", String(512), nullable=False),
)


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One row of the audit log."""

    id: int
    at: datetime
    event: str
    user_id: str | None
    via: str | None
    handle: str | None
    ip: str
    user_agent: str


class SqlAuditLog:
    """Write events as rows; list and prune them."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def record(self, event: AuthEvent) -> None:
        """Append `event` (an `Events` hook)."""
        row = {
            "at": event.at,
            "event": event.kind,
            "user_id": event.user_id,
            "via": event.via,
            "handle": event.handle,
            "ip": event.ip[:64],
            "user_agent": event.user_agent[:512],
        }
        async with translated_errors(), self._engine.begin() as conn:
            await conn.execute(insert(audit_log).values(**row))

    async def list(
        self,
        *,
        limit: int = 50,
        user_id: str | None = None,
        event: str | None = None,
        since: datetime | None = None,
    ) -> list[AuditRecord]:
        """The newest records first, optionally of one user or one event kind."""
        query = select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
        if user_id is not None:
            query = query.where(audit_log.c.user_id == user_id)
        if event is not None:
            query = query.where(audit_log.c.event == event)
        if since is not None:
            query = query.where(audit_log.c.at >= since)
        async with translated_errors(), self._engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [AuditRecord(**row) for row in rows]

    async def prune(self, before: datetime) -> int:
        """Delete the records older than `before`; return how many."""
        async with translated_errors(), self._engine.begin() as conn:
            result = await conn.execute(delete(audit_log).where(audit_log.c.at < before))
        return int(result.rowcount or 0)
