"""The peer: fastapi-users, set up as its documentation's SQLAlchemy example does.

Two apps, one per authentication backend, each with the same two routes as authward's
bench apps (``/bench/bare`` and ``/bench/protected``, behind
``fastapi_users.current_user(active=True)``):

* `jwt_app`: ``JWTStrategy`` (HS256, its default) on a ``BearerTransport``: a stateless
  token, whose user is loaded from the database on every request;
* `database_app`: ``DatabaseStrategy`` on a ``CookieTransport``: an access token row
  looked up in the database on every request, the peer of a server-side session.

Both keep users and access tokens in SQLite (aiosqlite) at ``BENCH_PEER_DATABASE``.
Runs only in the benchmark environment (.venv-bench), where fastapi-users is installed.
"""

# No `from __future__ import annotations`: FastAPI must see the local Annotated aliases.
import os
import uuid
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI
from fastapi_users import BaseUserManager, FastAPIUsers, UUIDIDMixin, schemas
from fastapi_users.authentication import (
    AuthenticationBackend,
    BearerTransport,
    CookieTransport,
    JWTStrategy,
)
from fastapi_users.authentication.strategy.db import AccessTokenDatabase, DatabaseStrategy
from fastapi_users_db_sqlalchemy import SQLAlchemyBaseUserTableUUID, SQLAlchemyUserDatabase
from fastapi_users_db_sqlalchemy.access_token import (
    SQLAlchemyAccessTokenDatabase,
    SQLAlchemyBaseAccessTokenTableUUID,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase

LIFETIME = 3600


class Base(DeclarativeBase):
    pass


class User(SQLAlchemyBaseUserTableUUID, Base):
    pass


class AccessToken(SQLAlchemyBaseAccessTokenTableUUID, Base):
    pass


class UserRead(schemas.BaseUser[uuid.UUID]):
    pass


class UserCreate(schemas.BaseUserCreate):
    pass


def _secret() -> str:
    return os.environ.get("BENCH_PEER_SECRET", "bench-peer-secret-" + "x" * 32)


engine = create_async_engine(
    "sqlite+aiosqlite:///" + os.environ.get("BENCH_PEER_DATABASE", "peer.db"),
    connect_args={"check_same_thread": False},
)
session_maker = async_sessionmaker(engine, expire_on_commit=False)


async def get_session() -> AsyncGenerator[AsyncSession, None]:
    async with session_maker() as session:
        yield session


async def get_user_db(
    session: Annotated[AsyncSession, Depends(get_session)],
) -> AsyncGenerator[SQLAlchemyUserDatabase[User, uuid.UUID], None]:
    yield SQLAlchemyUserDatabase(session, User)


async def get_access_token_db(
    session: Annotated[AsyncSession, Depends(get_session)],
) -> AsyncGenerator[SQLAlchemyAccessTokenDatabase[AccessToken], None]:
    yield SQLAlchemyAccessTokenDatabase(session, AccessToken)


class UserManager(UUIDIDMixin, BaseUserManager[User, uuid.UUID]):
    reset_password_token_secret = _secret()
    verification_token_secret = _secret()


async def get_user_manager(
    user_db: Annotated[SQLAlchemyUserDatabase[User, uuid.UUID], Depends(get_user_db)],
) -> AsyncGenerator[UserManager, None]:
    yield UserManager(user_db)


def get_jwt_strategy() -> JWTStrategy[User, uuid.UUID]:
    return JWTStrategy(secret=_secret(), lifetime_seconds=LIFETIME)


def get_database_strategy(
    access_token_db: Annotated[AccessTokenDatabase[AccessToken], Depends(get_access_token_db)],
) -> DatabaseStrategy[User, uuid.UUID, AccessToken]:
    return DatabaseStrategy(access_token_db, lifetime_seconds=LIFETIME)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    yield
    await engine.dispose()


def _app(backend: AuthenticationBackend[User, uuid.UUID]) -> FastAPI:
    users = FastAPIUsers[User, uuid.UUID](get_user_manager, [backend])
    current_user = Annotated[User, Depends(users.current_user(active=True))]
    app = FastAPI(lifespan=lifespan)
    app.include_router(users.get_auth_router(backend), prefix="/auth/login")
    app.include_router(users.get_register_router(UserRead, UserCreate), prefix="/auth")

    @app.get("/bench/bare")
    async def bare() -> dict[str, str]:
        return {"id": "anonymous"}

    @app.get("/bench/protected")
    async def protected(user: current_user) -> dict[str, str]:
        return {"id": str(user.id)}

    return app


def jwt_app() -> FastAPI:
    backend: Any = AuthenticationBackend(
        name="jwt",
        transport=BearerTransport(tokenUrl="auth/login/login"),
        get_strategy=get_jwt_strategy,
    )
    return _app(backend)


def database_app() -> FastAPI:
    backend: Any = AuthenticationBackend(
        name="database",
        transport=CookieTransport(cookie_name="peer_session", cookie_secure=False),
        get_strategy=get_database_strategy,
    )
    return _app(backend)
