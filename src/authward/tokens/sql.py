"""Signing keys and refresh families in SQL (SQLite or PostgreSQL).

Races are settled by the database, not by the process: a new key's `generation` is
unique, so concurrent first starts or rotations insert one key and the others lose; a
refresh rotation is one conditional UPDATE (``WHERE current_digest = :old``) whose row
count says who won. Each of these is the first statement of its transaction, so on
SQLite it takes the write lock before reading anything and waits for it (busy_timeout)
instead of failing on a stale snapshot.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    delete,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from authward.assurance import amr_of, amr_text
from authward.ids import Device, UserId
from authward.storage.sql import UtcDateTime, metadata, storable_text, translated_errors
from authward.tokens.models import Family
from authward.tokens.store import StoredKey, TokenLookup

signing_keys = Table(
    "authward_signing_keys",
    metadata,
    Column("generation", Integer, primary_key=True, autoincrement=False),
    Column("kid", String(64), nullable=False),
    Column("alg", String(16), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("retired_at", UtcDateTime, nullable=True),
    Column("public_jwk", Text, nullable=True),
    Column("sealed_private", LargeBinary, nullable=True),
)

refresh_families = Table(
    "authward_refresh_families",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("user_id", String(36), nullable=False),
    Column("current_digest", LargeBinary(32), nullable=False, unique=True),
    Column("previous_digest", LargeBinary(32), nullable=True),
    Column("rotated_at", UtcDateTime, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False, index=True),
    Column("last_seen_at", UtcDateTime, nullable=False),
    Column("user_agent", String(512), nullable=False, default=""),
    Column("ip", String(64), nullable=False, default=""),
    Column("revoked_at", UtcDateTime, nullable=True),
    # How the family's login authenticated (migration 0008_second_factors).
    Column("auth_time", UtcDateTime, nullable=True),
    Column("amr", String(32), nullable=False, server_default="pwd"),
)
Index(
    "ix_authward_refresh_families_user_created",
    refresh_families.c.user_id,
    refresh_families.c.created_at,
)

refresh_spent = Table(
    "authward_refresh_spent",
    metadata,
    Column("digest", LargeBinary(32), primary_key=True),
    Column(
        "family_id",
        String(32),
        ForeignKey("authward_refresh_families.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("spent_at", UtcDateTime, nullable=False),
)


class SqlKeyStore:
    """Signing keys as rows; `generation` is the primary key that settles races."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def load(self) -> list[StoredKey]:
        query = select(signing_keys).order_by(signing_keys.c.generation)
        async with translated_errors(), self._engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [
            StoredKey(
                kid=row["kid"],
                alg=row["alg"],
                generation=row["generation"],
                created_at=row["created_at"],
                retired_at=row["retired_at"],
                public_jwk=row["public_jwk"],
                sealed_private=None
                if row["sealed_private"] is None
                else bytes(row["sealed_private"]),
            )
            for row in rows
        ]

    async def add(self, key: StoredKey) -> bool:
        row = {
            "generation": key.generation,
            "kid": key.kid,
            "alg": key.alg,
            "created_at": key.created_at,
            "retired_at": key.retired_at,
            "public_jwk": key.public_jwk,
            "sealed_private": key.sealed_private,
        }
        retire = (
            update(signing_keys)
            .where(signing_keys.c.generation < key.generation, signing_keys.c.retired_at.is_(None))
            .values(retired_at=key.created_at, sealed_private=None)
        )
        async with translated_errors():
            try:
                async with self._engine.begin() as conn:
                    await conn.execute(insert(signing_keys).values(**row))
                    await conn.execute(retire)
            except IntegrityError:
                return False
        return True

    async def remove_retired(self, before: datetime) -> int:
        statement = delete(signing_keys).where(signing_keys.c.retired_at <= before)
        async with translated_errors(), self._engine.begin() as conn:
            result = await conn.execute(statement)
        return int(result.rowcount or 0)


def _family(row: RowMapping) -> Family:
    return Family(
        id=row["id"],
        user_id=row["user_id"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        last_seen_at=row["last_seen_at"],
        device=Device(user_agent=row["user_agent"], ip=row["ip"]),
        revoked_at=row["revoked_at"],
        auth_time=row["auth_time"],
        amr=amr_of(row["amr"]),
    )


def _live(now: datetime) -> list[Any]:
    return [refresh_families.c.revoked_at.is_(None), refresh_families.c.expires_at > now]


class SqlFamilyStore:
    """Refresh families as rows, with one row per spent token digest."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def add(self, family: Family, token_digest: bytes) -> None:
        row = {
            "id": family.id,
            "user_id": family.user_id,
            "current_digest": token_digest,
            "created_at": family.created_at,
            "expires_at": family.expires_at,
            "last_seen_at": family.last_seen_at,
            "user_agent": family.device.user_agent,
            "ip": family.device.ip,
            "revoked_at": family.revoked_at,
            "auth_time": family.auth_time,
            "amr": amr_text(family.amr),
        }
        async with translated_errors(), self._engine.begin() as conn:
            await conn.execute(insert(refresh_families).values(**row))

    async def find(self, token_digest: bytes) -> TokenLookup | None:
        current = select(refresh_families).where(refresh_families.c.current_digest == token_digest)
        spent = (
            select(refresh_families, refresh_spent.c.spent_at)
            .join(refresh_spent, refresh_spent.c.family_id == refresh_families.c.id)
            .where(refresh_spent.c.digest == token_digest)
        )
        async with translated_errors(), self._engine.connect() as conn:
            if (row := (await conn.execute(current)).mappings().first()) is not None:
                return TokenLookup(_family(row))
            row = (await conn.execute(spent)).mappings().first()
        if row is None:
            return None
        previous = (
            row["previous_digest"] is not None and bytes(row["previous_digest"]) == token_digest
        )
        return TokenLookup(_family(row), row["spent_at"], previous=previous)

    async def rotate(
        self, family_id: str, old_digest: bytes, new_digest: bytes, now: datetime, device: Device
    ) -> bool:
        # The compare-and-swap: only the rotation that still sees `old_digest` current wins.
        swap = (
            update(refresh_families)
            .where(
                refresh_families.c.id == family_id,
                refresh_families.c.current_digest == old_digest,
                *_live(now),
            )
            .values(
                current_digest=new_digest,
                previous_digest=old_digest,
                rotated_at=now,
                last_seen_at=now,
                user_agent=device.user_agent,
                ip=device.ip,
            )
        )
        spend = insert(refresh_spent).values(digest=old_digest, family_id=family_id, spent_at=now)
        async with translated_errors(), self._engine.begin() as conn:
            if (await conn.execute(swap)).rowcount != 1:
                return False
            await conn.execute(spend)
        return True

    async def revoke(self, family_id: str, at: datetime, *, user_id: UserId | None = None) -> bool:
        if not storable_text(family_id):
            return False
        conditions = [refresh_families.c.id == family_id, *_live(at)]
        if user_id is not None:
            conditions.append(refresh_families.c.user_id == user_id)
        statement = update(refresh_families).where(*conditions).values(revoked_at=at)
        async with translated_errors(), self._engine.begin() as conn:
            return bool((await conn.execute(statement)).rowcount == 1)

    async def reauthenticate(
        self,
        family_id: str,
        user_id: UserId,
        at: datetime,
        *,
        rotate_to: tuple[bytes, Device] | None = None,
    ) -> Family | None:
        if not storable_text(family_id):
            return None
        values: dict[str, Any] = {"auth_time": at}
        if rotate_to is not None:
            new_digest, device = rotate_to
            # SET reads the row as it was: `previous_digest` gets the token being spent,
            # whichever it is, in the same write that makes the new one current.
            values |= {
                "current_digest": new_digest,
                "previous_digest": refresh_families.c.current_digest,
                "rotated_at": at,
                "last_seen_at": at,
                "user_agent": device.user_agent,
                "ip": device.ip,
            }
        # UPDATE ... RETURNING: only a live family of this user, and the row as it now is.
        statement = (
            update(refresh_families)
            .where(refresh_families.c.id == family_id, refresh_families.c.user_id == user_id)
            .where(*_live(at))
            .values(**values)
            .returning(*refresh_families.c)
        )
        async with translated_errors(), self._engine.begin() as conn:
            row = (await conn.execute(statement)).mappings().first()
            if row is not None and rotate_to is not None:
                spent = bytes(row["previous_digest"])
                await conn.execute(
                    insert(refresh_spent).values(digest=spent, family_id=family_id, spent_at=at)
                )
        return None if row is None else _family(row)

    async def revoke_user(
        self, user_id: UserId, at: datetime, *, keep: str | None = None
    ) -> list[str]:
        conditions = [refresh_families.c.user_id == user_id, *_live(at)]
        if keep is not None:
            conditions.append(refresh_families.c.id != keep)
        statement = (
            update(refresh_families)
            .where(*conditions)
            .values(revoked_at=at)
            .returning(refresh_families.c.id)
        )
        async with translated_errors(), self._engine.begin() as conn:
            return list((await conn.execute(statement)).scalars())

    async def list_user(self, user_id: UserId) -> list[Family]:
        query = (
            select(refresh_families)
            .where(refresh_families.c.user_id == user_id)
            .order_by(refresh_families.c.created_at, refresh_families.c.id)
        )
        async with translated_errors(), self._engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [_family(row) for row in rows]

    async def remove_user(self, user_id: UserId) -> int:
        return await self._delete(refresh_families.c.user_id == user_id)

    async def sweep(self, now: datetime) -> int:
        return await self._delete(
            or_(refresh_families.c.expires_at <= now, refresh_families.c.revoked_at.is_not(None))
        )

    async def _delete(self, condition: ColumnElement[bool]) -> int:
        """Delete the families matching `condition` with their spent digests, in one go."""
        doomed = select(refresh_families.c.id).where(condition).scalar_subquery()
        async with translated_errors(), self._engine.begin() as conn:
            await conn.execute(delete(refresh_spent).where(refresh_spent.c.family_id.in_(doomed)))
            result = await conn.execute(delete(refresh_families).where(condition))
        return int(result.rowcount or 0)
