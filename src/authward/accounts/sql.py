"""Users in SQL (SQLite or PostgreSQL)."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Index,
    LargeBinary,
    String,
    Table,
    bindparam,
    delete,
    false,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from authward.accounts.emails import skeleton_digest
from authward.accounts.models import User
from authward.errors import EmailTaken
from authward.events import Then
from authward.ids import UserId
from authward.storage.reads import RowReader
from authward.storage.sql import UtcDateTime, metadata, storable_text, translated_errors

users = Table(
    "authward_users",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("email", String(320), nullable=False, unique=True),
    Column("password_hash", String(255), nullable=False),
    Column("disabled", Boolean, nullable=False, default=False),
    Column("created_at", UtcDateTime, nullable=False),
    # SHA-256 of the email's confusable skeleton (Unicode TS #39): unique, so of two
    # look-alikes registering at once one wins. NULL only for accounts that already
    # looked like an older one when the column came (migration 0005).
    Column("skeleton_digest", LargeBinary(32), nullable=True),
    # False for accounts made before it existed (migration 0009): nobody proved those.
    Column("email_verified", Boolean, nullable=False, default=False, server_default=false()),
    Index("ix_authward_users_skeleton_digest", "skeleton_digest", unique=True),
)

# What a User is made of: the skeleton digest is the store's own business.
_USER_COLUMNS = (
    users.c.id,
    users.c.email,
    users.c.password_hash,
    users.c.disabled,
    users.c.created_at,
    users.c.email_verified,
)


class SqlUserStore:
    """The default user store: one row per account, email and its skeleton unique."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        # The account of a caller the node does not keep yet: one hop (storage.reads).
        self._read = RowReader(engine, select(*_USER_COLUMNS).where(users.c.id == bindparam("id")))

    async def add(self, user: User) -> None:
        row = {
            "id": user.id,
            "email": user.email,
            "password_hash": user.password_hash,
            "disabled": user.disabled,
            "created_at": user.created_at,
            "email_verified": user.email_verified,
            "skeleton_digest": skeleton_digest(user.email),
        }
        async with translated_errors():
            try:
                async with self._engine.begin() as conn:
                    await conn.execute(insert(users).values(**row))
            except IntegrityError:  # the email, or its skeleton: the same answer
                raise EmailTaken from None

    async def get(self, user_id: UserId) -> User | None:
        if not storable_text(user_id):
            return None  # no row holds it; PostgreSQL would refuse the statement
        row = await self._read.one(id=user_id)
        return None if row is None else User(**row)

    async def get_by_email(self, email: str) -> User | None:
        return await self._one(users.c.email == email)

    async def set_password_hash(
        self, user_id: UserId, password_hash: str, *, then: Then | None = None
    ) -> None:
        async with translated_errors(), self._engine.begin() as conn:
            result = await conn.execute(
                update(users).where(users.c.id == user_id).values(password_hash=password_hash)
            )
            if then is not None and result.rowcount > 0:
                await then(conn)  # the notice's outbox row commits with the hash, or neither

    async def set_disabled(self, user_id: UserId, disabled: bool) -> bool:
        async with translated_errors(), self._engine.begin() as conn:
            result = await conn.execute(
                update(users).where(users.c.id == user_id).values(disabled=disabled)
            )
        return result.rowcount > 0

    async def set_email_verified(self, user_id: UserId) -> None:
        async with translated_errors(), self._engine.begin() as conn:
            await conn.execute(
                update(users).where(users.c.id == user_id).values(email_verified=True)
            )

    async def change_email(
        self, user_id: UserId, email: str, *, expected: str, then: Then | None = None
    ) -> bool:
        # Conditional on the address it replaces: of two changes racing, one applies.
        query = (
            update(users)
            .where(users.c.id == user_id, users.c.email == expected)
            .values(email=email, skeleton_digest=skeleton_digest(email), email_verified=True)
        )
        async with translated_errors(), self._engine.begin() as conn:
            try:
                result = await conn.execute(query)
            except IntegrityError:  # this UPDATE's only: the notice's own is no EmailTaken
                raise EmailTaken from None
            changed = result.rowcount > 0
            if then is not None and changed:
                await then(conn)  # the notice's outbox row commits with the address, or neither
        return changed

    async def remove(self, user_id: UserId) -> bool:
        # Tables that hang off an account (second factors) reference users.id with
        # ON DELETE CASCADE: this one statement takes them along.
        async with translated_errors(), self._engine.begin() as conn:
            result = await conn.execute(delete(users).where(users.c.id == user_id))
        return result.rowcount > 0

    async def list(self, *, limit: int = 100, offset: int = 0) -> list[User]:
        query = (
            select(*_USER_COLUMNS)
            .order_by(users.c.created_at, users.c.id)
            .limit(limit)
            .offset(offset)
        )
        async with translated_errors(), self._engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [User(**row) for row in rows]

    async def _one(self, condition: object) -> User | None:
        query = select(*_USER_COLUMNS).where(condition)  # type: ignore[arg-type]
        async with translated_errors(), self._engine.connect() as conn:
            row = (await conn.execute(query)).mappings().first()
        return None if row is None else User(**row)
