"""Mailed links in SQL (SQLite or PostgreSQL): one row per outstanding link."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Column, Index, LargeBinary, String, Table, delete, insert
from sqlalchemy.ext.asyncio import AsyncEngine

from authward.accounts.links import PURPOSES, Deliver, Link, Purpose
from authward.ids import UserId
from authward.storage.sql import UtcDateTime, metadata, translated_errors

account_links = Table(
    "authward_account_links",
    metadata,
    Column("digest", LargeBinary(32), primary_key=True),  # SHA-256 of the token
    Column("purpose", String(16), nullable=False),
    Column("user_id", String(36), nullable=False),
    Column("email", String(320), nullable=False),
    Column("new_email", String(320), nullable=True),
    Column("expires_at", UtcDateTime, nullable=False, index=True),
)
Index("ix_authward_account_links_user", account_links.c.user_id, account_links.c.purpose)


class SqlLinkStore:
    """The default link store: consuming is one DELETE … RETURNING, so one winner."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def replace(self, link: Link, deliver: Deliver) -> None:
        row = {
            "digest": link.digest,
            "purpose": link.purpose,
            "user_id": link.user_id,
            "email": link.email,
            "new_email": link.new_email,
            "expires_at": link.expires_at,
        }
        async with translated_errors(), self._engine.begin() as conn:
            await conn.execute(
                delete(account_links).where(
                    account_links.c.user_id == link.user_id,
                    account_links.c.purpose == link.purpose,
                )
            )
            await conn.execute(insert(account_links).values(**row))
            await deliver(conn)  # the mail's outbox row commits with the link, or neither

    async def consume(
        self, digest: bytes, purposes: Iterable[Purpose], now: datetime
    ) -> Link | None:
        # One statement: the row lock (PostgreSQL) or the write lock (SQLite) lets exactly
        # one of two concurrent deletes see the row; the other deletes nothing.
        query = (
            delete(account_links)
            .where(
                account_links.c.digest == digest,
                account_links.c.purpose.in_(tuple(purposes)),
                account_links.c.expires_at > now,
            )
            .returning(*account_links.c)
        )
        async with translated_errors(), self._engine.begin() as conn:
            row = (await conn.execute(query)).mappings().first()
        if row is None:
            return None
        return Link(
            row["digest"],
            row["purpose"],
            row["user_id"],
            row["email"],
            row["expires_at"],
            row["new_email"],
        )

    async def void(self, user_id: UserId, purposes: Iterable[Purpose] = PURPOSES) -> int:
        query = delete(account_links).where(
            account_links.c.user_id == user_id, account_links.c.purpose.in_(tuple(purposes))
        )
        async with translated_errors(), self._engine.begin() as conn:
            return (await conn.execute(query)).rowcount

    async def sweep(self, now: datetime) -> int:
        query = delete(account_links).where(account_links.c.expires_at <= now)
        async with translated_errors(), self._engine.begin() as conn:
            return (await conn.execute(query)).rowcount
