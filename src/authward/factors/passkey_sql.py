"""Passkeys and their challenges in SQL (SQLite or PostgreSQL).

The challenges live in the database every node reads, with or without Redis: a
registration or sign-in begun on one node can be finished on another, and a challenge
is taken by one ``DELETE … RETURNING``, so of two answers to it exactly one gets it.

A passkey is kept by one ``INSERT … SELECT … WHERE (the user's passkeys) < limit``: on
SQLite a writing statement takes the database's write lock before it reads, so two
registrations cannot both count the same passkeys; on PostgreSQL they could (neither sees
the other's uncommitted row), so the transaction first takes an advisory lock per user.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    LargeBinary,
    String,
    Table,
    delete,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from authward.errors import TooManyPasskeys
from authward.events import Then
from authward.factors.models import Passkey, PasskeyChallenge
from authward.ids import UserId
from authward.storage.sql import UtcDateTime, metadata, translated_errors

MAX_CREDENTIAL_ID: int = 1023  # WebAuthn Level 3 §5.8.3: credential ids are at most 1023 bytes
# The first argument of PostgreSQL's two-key advisory locks: a class of its own ("awpk"),
# apart from the throttle's and from any an application sharing the database takes.
_ADVISORY_LOCK_CLASS = 0x6177706B

passkeys = Table(
    "authward_passkeys",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("user_id", String(36), nullable=False, index=True),
    Column("credential_id", LargeBinary(MAX_CREDENTIAL_ID), nullable=False, unique=True),
    Column("public_key", LargeBinary(1024), nullable=False),
    Column("sign_count", BigInteger, nullable=False),
    Column("name", String(64), nullable=False),
    Column("transports", String(128), nullable=False),
    Column("backup_eligible", Boolean, nullable=False),
    Column("backed_up", Boolean, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("last_used_at", UtcDateTime, nullable=True),
)

passkey_challenges = Table(
    "authward_passkey_challenges",
    metadata,
    Column("digest", LargeBinary(32), primary_key=True),
    Column("purpose", String(16), nullable=False),
    Column("user_id", String(36), nullable=True),
    Column("expires_at", UtcDateTime, nullable=False, index=True),
)


def _lock_id(passkey: Passkey) -> tuple[int, int]:
    """The advisory lock of the passkey's user: our class, and 32 bits of a digest of the
    user id (two users sharing a lock only wait for each other, never miscount)."""
    digest = hashlib.sha256(passkey.user_id.encode()).digest()
    return _ADVISORY_LOCK_CLASS, int.from_bytes(digest[:4], "big", signed=True)


def _passkey(row: RowMapping) -> Passkey:
    return Passkey(
        id=row["id"],
        user_id=row["user_id"],
        credential_id=bytes(row["credential_id"]),
        public_key=bytes(row["public_key"]),
        sign_count=int(row["sign_count"]),
        name=row["name"],
        transports=tuple(row["transports"].split()),
        backup_eligible=bool(row["backup_eligible"]),
        backed_up=bool(row["backed_up"]),
        created_at=row["created_at"],
        last_used_at=row["last_used_at"],
    )


class SqlPasskeyStore:
    """One row per passkey, and one per challenge handed out and not yet answered."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def add(self, passkey: Passkey, *, limit: int, then: Then | None = None) -> bool:
        row = {
            "id": passkey.id,
            "user_id": passkey.user_id,
            "credential_id": passkey.credential_id,
            "public_key": passkey.public_key,
            "sign_count": passkey.sign_count,
            "name": passkey.name,
            "transports": " ".join(passkey.transports),
            "backup_eligible": passkey.backup_eligible,
            "backed_up": passkey.backed_up,
            "created_at": passkey.created_at,
            "last_used_at": passkey.last_used_at,
        }
        held = (
            select(func.count())
            .select_from(passkeys)
            .where(passkeys.c.user_id == passkey.user_id)
            .scalar_subquery()
        )
        values = select(*(literal(value, passkeys.c[name].type) for name, value in row.items()))
        statement = (
            insert(passkeys)
            .from_select(list(row), values.where(held < limit))
            .returning(passkeys.c.id)
        )
        inserted = False
        async with translated_errors():
            try:
                async with self._engine.begin() as conn:
                    if conn.dialect.name == "postgresql":
                        await conn.execute(select(func.pg_advisory_xact_lock(*_lock_id(passkey))))
                    added = await conn.scalar(statement)
                    inserted = True
                    if added is not None and then is not None:
                        await then(conn)  # the notice commits with the passkey, or neither
            except IntegrityError:
                if inserted:
                    raise  # the notice's write failed, and the passkey went with it
                return False  # the credential id is taken: the unique index decides
        if added is None:
            raise TooManyPasskeys
        return True

    async def of_user(self, user_id: UserId) -> list[Passkey]:
        query = (
            select(passkeys)
            .where(passkeys.c.user_id == user_id)
            .order_by(passkeys.c.created_at, passkeys.c.id)
        )
        async with translated_errors(), self._engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [_passkey(row) for row in rows]

    async def by_credential(self, credential_id: bytes) -> Passkey | None:
        query = select(passkeys).where(passkeys.c.credential_id == credential_id)
        async with translated_errors(), self._engine.connect() as conn:
            row = (await conn.execute(query)).mappings().first()
        return None if row is None else _passkey(row)

    async def remove(self, user_id: UserId, passkey_id: str, *, then: Then | None = None) -> bool:
        condition = passkeys.c.id == passkey_id, passkeys.c.user_id == user_id
        async with translated_errors(), self._engine.begin() as conn:
            removed = int((await conn.execute(delete(passkeys).where(*condition))).rowcount or 0)
            if removed == 1 and then is not None:
                await then(conn)  # the notice commits with the removal, or neither
        return removed == 1

    async def remove_user(self, user_id: UserId) -> int:
        return await self._delete(passkeys, passkeys.c.user_id == user_id)

    async def record_use(
        self, passkey_id: str, seen_count: int, new_count: int, backed_up: bool, at: datetime
    ) -> bool:
        # Compare and set in one statement: of two sign-ins checked against one count,
        # one moves it; the other finds it moved and is refused.
        statement = (
            update(passkeys)
            .where(passkeys.c.id == passkey_id, passkeys.c.sign_count == seen_count)
            .values(sign_count=new_count, backed_up=backed_up, last_used_at=at)
        )
        async with translated_errors(), self._engine.begin() as conn:
            result = await conn.execute(statement)
        return int(result.rowcount or 0) == 1

    async def add_challenge(self, challenge: PasskeyChallenge) -> None:
        row = {
            "digest": challenge.digest,
            "purpose": challenge.purpose,
            "user_id": challenge.user_id,
            "expires_at": challenge.expires_at,
        }
        async with translated_errors(), self._engine.begin() as conn:
            await conn.execute(insert(passkey_challenges).values(**row))

    async def take_challenge(self, digest: bytes) -> PasskeyChallenge | None:
        statement = (
            delete(passkey_challenges)
            .where(passkey_challenges.c.digest == digest)
            .returning(
                passkey_challenges.c.purpose,
                passkey_challenges.c.user_id,
                passkey_challenges.c.expires_at,
            )
        )
        async with translated_errors(), self._engine.begin() as conn:
            row = (await conn.execute(statement)).mappings().first()
        if row is None:
            return None
        return PasskeyChallenge(digest, row["purpose"], row["user_id"], row["expires_at"])

    async def sweep(self, now: datetime) -> int:
        return await self._delete(passkey_challenges, passkey_challenges.c.expires_at <= now)

    async def _delete(self, table: Table, *conditions: Any) -> int:
        async with translated_errors(), self._engine.begin() as conn:
            result = await conn.execute(delete(table).where(*conditions))
        return int(result.rowcount or 0)
