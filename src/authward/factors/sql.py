"""Second factors in SQL (SQLite or PostgreSQL): the races are single conditional statements."""

from __future__ import annotations

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
    insert,
    select,
    update,
)
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from authward.events import Then
from authward.factors.models import Challenge, RecoveryCode, TotpFactor
from authward.ids import UserId
from authward.storage.sql import UtcDateTime, metadata, translated_errors

totp_factors = Table(
    "authward_totp_factors",
    metadata,
    Column("user_id", String(36), primary_key=True),
    Column("sealed_secret", LargeBinary(128), nullable=False),
    Column("confirmed", Boolean, nullable=False),
    # The newest RFC 6238 step accepted: a code's step must exceed it (no replay).
    Column("last_step", BigInteger, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

recovery_codes = Table(
    "authward_recovery_codes",
    metadata,
    Column("user_id", String(36), primary_key=True),
    Column("code_id", String(32), primary_key=True),
    Column("code_hash", String(255), nullable=False),
    Column("used_at", UtcDateTime, nullable=True),
)

mfa_challenges = Table(
    "authward_mfa_challenges",
    metadata,
    Column("token_digest", LargeBinary(32), primary_key=True),
    Column("user_id", String(36), nullable=False),
    Column("mode", String(8), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False, index=True),
)


def _totp(row: RowMapping) -> TotpFactor:
    return TotpFactor(
        user_id=row["user_id"],
        sealed_secret=bytes(row["sealed_secret"]),
        confirmed=bool(row["confirmed"]),
        last_step=int(row["last_step"]),
        created_at=row["created_at"],
    )


class SqlFactorStore:
    """One row per TOTP secret, per recovery code and per pending second step."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def get_totp(self, user_id: UserId) -> TotpFactor | None:
        query = select(totp_factors).where(totp_factors.c.user_id == user_id)
        async with translated_errors(), self._engine.connect() as conn:
            row = (await conn.execute(query)).mappings().first()
        return None if row is None else _totp(row)

    async def put_pending_totp(self, factor: TotpFactor) -> bool:
        pending = totp_factors.c.user_id == factor.user_id, totp_factors.c.confirmed.is_(False)
        row = {
            "user_id": factor.user_id,
            "sealed_secret": factor.sealed_secret,
            "confirmed": False,
            "last_step": factor.last_step,
            "created_at": factor.created_at,
        }
        async with translated_errors():
            try:
                async with self._engine.begin() as conn:
                    await conn.execute(delete(totp_factors).where(*pending))
                    await conn.execute(insert(totp_factors).values(**row))
            except IntegrityError:  # a confirmed row holds the key: it stays as it is
                return False
        return True

    async def confirm_totp(self, user_id: UserId, step: int, *, then: Then | None = None) -> bool:
        return await self._update(
            totp_factors,
            (
                totp_factors.c.user_id == user_id,
                totp_factors.c.confirmed.is_(False),
                totp_factors.c.last_step < step,
            ),
            then,
            confirmed=True,
            last_step=step,
        )

    async def advance_step(self, user_id: UserId, step: int) -> bool:
        # One statement: of two nodes accepting the same code at once, one updates a row.
        return await self._update(
            totp_factors,
            (
                totp_factors.c.user_id == user_id,
                totp_factors.c.confirmed.is_(True),
                totp_factors.c.last_step < step,
            ),
            None,
            last_step=step,
        )

    async def remove_totp(self, user_id: UserId, *, then: Then | None = None) -> bool:
        return await self._delete(totp_factors, totp_factors.c.user_id == user_id, then) > 0

    async def replace_codes(
        self, user_id: UserId, codes: list[RecoveryCode], *, then: Then | None = None
    ) -> None:
        rows = [
            {"user_id": c.user_id, "code_id": c.code_id, "code_hash": c.code_hash, "used_at": None}
            for c in codes
        ]
        async with translated_errors(), self._engine.begin() as conn:
            await conn.execute(delete(recovery_codes).where(recovery_codes.c.user_id == user_id))
            if rows:
                await conn.execute(insert(recovery_codes), rows)
                if then is not None:
                    await then(conn)  # the notice commits with the new set, or neither

    async def unused_codes(self, user_id: UserId) -> list[RecoveryCode]:
        query = (
            select(recovery_codes)
            .where(recovery_codes.c.user_id == user_id, recovery_codes.c.used_at.is_(None))
            .order_by(recovery_codes.c.code_id)
        )
        async with translated_errors(), self._engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [
            RecoveryCode(r["user_id"], r["code_id"], r["code_hash"], r["used_at"]) for r in rows
        ]

    async def spend_code(
        self, user_id: UserId, code_id: str, at: datetime, *, then: Then | None = None
    ) -> bool:
        return await self._update(
            recovery_codes,
            (
                recovery_codes.c.user_id == user_id,
                recovery_codes.c.code_id == code_id,
                recovery_codes.c.used_at.is_(None),
            ),
            then,
            used_at=at,
        )

    async def remove_codes(self, user_id: UserId) -> int:
        return await self._delete(recovery_codes, recovery_codes.c.user_id == user_id)

    async def add_challenge(self, challenge: Challenge) -> None:
        row = {
            "token_digest": challenge.token_digest,
            "user_id": challenge.user_id,
            "mode": challenge.mode,
            "created_at": challenge.created_at,
            "expires_at": challenge.expires_at,
        }
        async with translated_errors(), self._engine.begin() as conn:
            await conn.execute(insert(mfa_challenges).values(**row))

    async def get_challenge(self, token_digest: bytes) -> Challenge | None:
        query = select(mfa_challenges).where(mfa_challenges.c.token_digest == token_digest)
        async with translated_errors(), self._engine.connect() as conn:
            row = (await conn.execute(query)).mappings().first()
        if row is None:
            return None
        return Challenge(
            token_digest=bytes(row["token_digest"]),
            user_id=row["user_id"],
            mode=row["mode"],
            created_at=row["created_at"],
            expires_at=row["expires_at"],
        )

    async def take_challenge(self, token_digest: bytes) -> bool:
        condition = mfa_challenges.c.token_digest == token_digest
        return await self._delete(mfa_challenges, condition) == 1

    async def sweep(self, now: datetime) -> int:
        return await self._delete(mfa_challenges, mfa_challenges.c.expires_at <= now)

    async def remove_user(self, user_id: UserId, *, then: Then | None = None) -> int:
        # One transaction: a reader sees the user with every factor or with none.
        removed = 0
        async with translated_errors(), self._engine.begin() as conn:
            for table in (totp_factors, recovery_codes, mfa_challenges):
                result = await conn.execute(delete(table).where(table.c.user_id == user_id))
                removed += int(result.rowcount or 0)
            if then is not None:
                await then(conn)  # an operator's reset: told of whatever it removed
        return removed

    async def _update(
        self, table: Table, conditions: tuple[Any, ...], then: Then | None, **values: Any
    ) -> bool:
        """One conditional UPDATE; `then` runs in its transaction when it changed the row."""
        async with translated_errors(), self._engine.begin() as conn:
            result = await conn.execute(update(table).where(*conditions).values(**values))
            changed = int(result.rowcount or 0) == 1
            if changed and then is not None:
                await then(conn)  # the notice's outbox row commits with the change, or neither
        return changed

    async def _delete(self, table: Table, condition: Any, then: Then | None = None) -> int:
        """One DELETE; `then` runs in its transaction when it removed a row."""
        async with translated_errors(), self._engine.begin() as conn:
            result = await conn.execute(delete(table).where(condition))
            removed = int(result.rowcount or 0)
            if removed and then is not None:
                await then(conn)
        return removed
