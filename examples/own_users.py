"""An app that keeps its users in its own table: authward through a `UserStore` adapter.

The app already has a ``members`` table (an SQLAlchemy ORM model, integer keys, its own
columns). `MemberStore` adapts it to authward's `UserStore` protocol; everything else
(sessions, tokens, keys, the audit log) stays in authward's tables. Run it from the
repository's root (plain HTTP on localhost; development only):

    AUTHWARD_INSECURE_COOKIES=1 python examples/own_users.py    # http://127.0.0.1:8000

``PORT`` picks the port, ``APP_DATABASE_URL`` the app's database (default
``sqlite+aiosqlite:///./members.db``).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Annotated

import uvicorn
from fastapi import Depends, FastAPI
from sqlalchemy import DateTime, Select, String, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from authward import Account, AuthUser, Authward, EmailTaken, User, UserId

# --- the app's own model -------------------------------------------------------------


class Base(DeclarativeBase):
    pass


class Member(Base):
    __tablename__ = "members"

    id: Mapped[int] = mapped_column(primary_key=True)  # the app's key, never shown
    public_id: Mapped[str] = mapped_column(String(36), unique=True)  # authward's user id
    email: Mapped[str] = mapped_column(String(320), unique=True)  # stored normalised
    password_hash: Mapped[str] = mapped_column(String(255))  # argon2id, from authward
    active: Mapped[bool] = mapped_column(default=True)
    joined_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    nickname: Mapped[str] = mapped_column(String(80), default="")  # the app's own column


# --- the adapter: authward's UserStore protocol over the members table --------------------


class MemberStore:
    """authward's `UserStore` on the ``members`` table.

    authward hands over emails already normalised (NFKC, case-folded) and looks them up
    the same way, so a plain equality on a unique column is all it takes.
    """

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def add(self, user: User) -> None:
        member = Member(
            public_id=user.id,
            email=user.email,
            password_hash=user.password_hash,
            active=not user.disabled,
            joined_at=user.created_at,
        )
        try:
            async with self._sessions.begin() as session:
                session.add(member)
        except IntegrityError:
            raise EmailTaken from None  # the one error authward expects from `add`

    async def get(self, user_id: UserId) -> User | None:
        return await self._one(select(Member).where(Member.public_id == user_id))

    async def get_by_email(self, email: str) -> User | None:
        return await self._one(select(Member).where(Member.email == email))

    async def set_password_hash(self, user_id: UserId, password_hash: str) -> None:
        async with self._sessions.begin() as session:
            await session.execute(
                update(Member)
                .where(Member.public_id == user_id)
                .values(password_hash=password_hash)
            )

    async def set_disabled(self, user_id: UserId, disabled: bool) -> bool:
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(Member).where(Member.public_id == user_id).values(active=not disabled)
            )
        return bool(getattr(result, "rowcount", 0))

    async def list(self, *, limit: int = 100, offset: int = 0) -> list[User]:
        query = select(Member).order_by(Member.joined_at, Member.id).limit(limit).offset(offset)
        async with self._sessions() as session:
            return [_user(m) for m in (await session.scalars(query)).all()]

    async def _one(self, query: Select[Member]) -> User | None:
        async with self._sessions() as session:
            member = (await session.scalars(query)).first()
        return None if member is None else _user(member)


def _user(member: Member) -> User:
    joined = member.joined_at
    if joined.tzinfo is None:  # SQLite keeps no zone: the app stores UTC
        joined = joined.replace(tzinfo=UTC)
    return User(member.public_id, member.email, member.password_hash, joined, not member.active)


# --- the app ------------------------------------------------------------------------------

engine = create_async_engine(os.environ.get("APP_DATABASE_URL", "sqlite+aiosqlite:///./members.db"))
sessions = async_sessionmaker(engine, expire_on_commit=False)
auth = Authward.from_env(user_store=MemberStore(sessions))


@asynccontextmanager
async def app_lifespan(app: FastAPI) -> AsyncIterator[None]:
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)  # the app's own schema, its own way
    yield
    await engine.dispose()


# redirect_slashes=False: FastAPI's redirect from /members/ to /members is built from the
# request's Host header, so a client could aim it at any host.
app = FastAPI(title="members", lifespan=auth.lifespan_with(app_lifespan), redirect_slashes=False)
app.include_router(auth.router)


@app.get("/me")
async def me(user: Annotated[Account, Depends(auth.current_account)]) -> dict[str, str]:
    return {"id": user.id, "email": user.email}


@app.get("/members")
async def members(user: Annotated[AuthUser, Depends(auth.current_user)]) -> list[dict[str, str]]:
    async with sessions() as session:
        rows = (await session.scalars(select(Member).order_by(Member.id))).all()
    return [{"id": m.public_id, "email": m.email, "nickname": m.nickname} for m in rows]


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(os.environ.get("PORT", "8000")))
