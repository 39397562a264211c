"""Look-alike emails (Unicode TS #39 confusables) cannot register beside an account.

Issue 14: ``ıda@``, ``adа@`` (a Cyrillic ``а``) and ``ada@еxample.com`` each got 201 beside
the account they imitate, and the pages and the CLI showed them alike. Each store keeps
the digest of the email's confusable skeleton under a unique index; lookups still match
the normalised email exactly, so a look-alike signs in as nobody.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from typer.testing import CliRunner

from authward.accounts.emails import normalize_email, skeleton
from authward.accounts.models import User
from authward.accounts.sql import SqlUserStore
from authward.accounts.store import MemoryUserStore, UserStore
from authward.cli.main import app
from authward.errors import EmailTaken
from authward.storage.migrate import upgrade
from authward.storage.sql import create_engine
from tests.conftest import CHEAP_ARGON2, POSTGRES_ADMIN_URL, TEST_SECRET, unavailable
from tests.web.helpers import PASSWORD, register

ADA = "ada@example.com"
# Each reads as ADA: Cyrillic а, е, о, х, с and Latin alpha ɑ in place of Latin letters.
LOOKALIKES = (
    "adа@example.com",
    "аda@example.com",
    "ada@еxample.com",
    "аdа@example.com",
    "ada@exаmple.com",
    "ada@ехample.com",
    "ɑda@example.com",
    "ada@example.соm",
)


def a_user(email: str) -> User:
    return User(
        id=secrets.token_hex(8),
        email=normalize_email(email),
        password_hash="$argon2id$not-a-real-hash",
        created_at=datetime.now(UTC),
    )


def test_lookalikes_share_the_skeleton_of_the_address_they_imitate() -> None:
    for lookalike in LOOKALIKES:
        assert lookalike != ADA
        assert skeleton(normalize_email(lookalike)) == skeleton(ADA), lookalike
    assert skeleton("ıda@example.com") == skeleton("ida@example.com")  # dotless ı
    assert skeleton("bob@example.com") != skeleton(ADA)
    assert skeleton("ida@example.com") != skeleton(ADA)


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def user_store(request: pytest.FixtureRequest) -> UserStore:
    if request.param == "memory":
        return MemoryUserStore()
    engine: AsyncEngine = request.getfixturevalue(f"{request.param}_engine")
    return SqlUserStore(engine)


async def test_a_lookalike_of_an_account_is_taken(user_store: UserStore) -> None:
    await user_store.add(a_user(ADA))
    for lookalike in (*LOOKALIKES, ADA):
        with pytest.raises(EmailTaken):
            await user_store.add(a_user(lookalike))
    await user_store.add(a_user("ida@example.com"))
    with pytest.raises(EmailTaken):
        await user_store.add(a_user("ıda@example.com"))
    await user_store.add(a_user("bob@example.com"))  # a different address is still free


async def test_a_lookalike_finds_no_account(user_store: UserStore) -> None:
    await user_store.add(a_user(ADA))
    for lookalike in LOOKALIKES:
        assert await user_store.get_by_email(normalize_email(lookalike)) is None


async def test_of_lookalikes_registering_at_once_one_wins(user_store: UserStore) -> None:
    """The unique index decides, not a look before the insert: no window between the two."""
    results = await asyncio.gather(
        *(user_store.add(a_user(email)) for email in (ADA, *LOOKALIKES)),
        return_exceptions=True,
    )
    assert sum(result is None for result in results) == 1, results
    assert all(isinstance(r, EmailTaken) for r in results if r is not None), results


async def test_register_answers_a_lookalike_as_a_taken_email(client: httpx.AsyncClient) -> None:
    await register(client, ADA)
    taken = await client.post("/auth/register", json={"email": ADA, "password": PASSWORD})
    for lookalike in LOOKALIKES:
        response = await client.post(
            "/auth/register", json={"email": lookalike, "password": PASSWORD}
        )
        assert response.status_code == 409, lookalike
        assert response.json() == taken.json()


async def test_a_lookalike_with_the_accounts_password_does_not_sign_in(
    client: httpx.AsyncClient,
) -> None:
    await register(client, ADA)
    for lookalike in LOOKALIKES[:3]:
        response = await client.post(
            "/auth/session/login", json={"email": lookalike, "password": PASSWORD}
        )
        assert response.status_code == 401, lookalike
    ok = await client.post("/auth/session/login", json={"email": ADA, "password": PASSWORD})
    assert ok.status_code == 200


def test_the_command_line_refuses_a_lookalike(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUTHWARD_DATABASE_URL", f"sqlite:///{tmp_path}/cli.db")
    monkeypatch.setenv("AUTHWARD_SECRET_KEY", TEST_SECRET)
    for name, value in CHEAP_ARGON2.items():
        monkeypatch.setenv(f"AUTHWARD_{name.upper()}", str(value))
    runner = CliRunner()
    for email, exit_code in ((ADA, 0), ("adа@example.com", 1)):
        result = runner.invoke(
            app, ["users", "create", email, "--password-stdin"], input="a good password\n"
        )
        assert result.exit_code == exit_code, result.output
    assert "already registered" in result.output
    listed = runner.invoke(app, ["users", "list"], env={"COLUMNS": "200"}).output
    assert listed.count("@example.com") == 1


# --- migration 0005: the skeletons of existing accounts ----------------------------------


@pytest.fixture(params=["sqlite", "postgres"])
async def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A database with no schema at all, on each SQL backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/old.db"
        return
    name = f"authward_lookalike_{secrets.token_hex(4)}"
    try:
        admin = await asyncpg.connect(POSTGRES_ADMIN_URL, timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        unavailable("PostgreSQL", exc)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield f"{POSTGRES_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def test_the_migration_keeps_existing_lookalikes_and_guards_the_oldest(
    empty_database: str, caplog: pytest.LogCaptureFixture
) -> None:
    engine = create_engine(empty_database)
    try:
        await upgrade(engine, "0003")  # before skeletons
        rows = [  # the imitation registered last
            ("00-ada", ADA, "2026-01-01 00:00:00"),
            ("01-bob", "bob@example.com", "2026-01-02 00:00:00"),
            ("02-fake", "adа@example.com", "2026-01-03 00:00:00"),
        ]
        async with engine.begin() as conn:
            for user_id, email, created in rows:
                await conn.execute(
                    text(
                        "INSERT INTO authward_users"
                        " (id, email, password_hash, disabled, created_at)"
                        " VALUES (:id, :email, 'h', false, :created)"
                    ),
                    {"id": user_id, "email": email, "created": datetime.fromisoformat(created)},
                )
        with caplog.at_level(logging.WARNING, logger="authward.security"):
            await upgrade(engine)
        warned = [r for r in caplog.records if getattr(r, "event", None) == "lookalike_accounts"]
        assert len(warned) == 1 and "02-fake" in warned[0].getMessage()
        assert ADA not in warned[0].getMessage()  # ids only: an email is not for the log

        store = SqlUserStore(engine)
        for user_id, email, _ in rows:  # every account still works
            found = await store.get_by_email(email)
            assert found is not None and found.id == user_id
        for lookalike in ("аda@example.com", "bоb@example.com"):  # and none joins them
            with pytest.raises(EmailTaken):
                await store.add(a_user(lookalike))
        await store.add(a_user("carol@example.com"))
    finally:
        await engine.dispose()
