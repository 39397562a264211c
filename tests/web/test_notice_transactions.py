"""A change's notice mail is queued in the change's own transaction, as the runtime
assembles it (SQLite; the stores' part runs on PostgreSQL too, in
tests/contracts/test_change_notices.py): it is there the moment the change commits, it is
not there when the change is not, and it is queued once, not again by the event.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from authward.accounts.models import User
from authward.accounts.store import MemoryUserStore
from authward.clock import FrozenClock
from authward.errors import InvalidLink
from authward.events import AuthEvent
from authward.ids import UserId
from authward.mail import Mail
from authward.runtime import Runtime, build_runtime
from authward.settings import Settings
from authward.storage.redis import KeyNames, RedisClient
from tests.conftest import REDIS_URL, make_settings
from tests.web.helpers import PASSWORD, register, session_login
from tests.web.passkey_helpers import SoftKey
from tests.web.test_mailed_links import NEW_PASSWORD, mails, token_of
from tests.web.test_passkeys import add

EMAIL = "ada@example.com"
NEW_EMAIL = "ada@new.example"


class Died(Exception):
    """The process ending right after the change committed, before anything else ran."""


async def die(*args: object, **kwargs: object) -> AuthEvent:
    """Stands in for whatever runs after the store's write: it never returns."""
    raise Died


@pytest.fixture
def settings(tmp_path: object) -> Settings:
    return make_settings(tmp_path, public_url="https://testserver")  # the SoftKey's origin


async def notices(runtime: Runtime) -> list[str]:
    """The body of each notice queued since the last call (a verification mail aside)."""
    return [m.body.text for m in await mails(runtime) if m.template != "verify_email"]


async def test_passkeys_and_an_operators_reset_each_queue_one_notice(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    user_id = await register(client, EMAIL)
    csrf = await session_login(client, EMAIL)
    await notices(runtime)
    key = SoftKey()
    assert (await add(client, csrf, key)).status_code == 201
    [added] = await notices(runtime)
    assert "passkey was added" in added
    assert (await add(client, csrf, key)).status_code == 409  # registered already
    assert await notices(runtime) == []

    passkey_id = (await client.get("/auth/factors")).json()["passkeys"][0]["id"]
    path = f"/auth/factors/passkeys/{passkey_id}"
    body = {"current_password": PASSWORD}
    removed = await client.request("DELETE", path, json=body, headers={"X-CSRF-Token": csrf})
    assert removed.status_code == 204
    [gone] = await notices(runtime)
    assert "passkey was removed" in gone
    again = await client.request("DELETE", path, json=body, headers={"X-CSRF-Token": csrf})
    assert again.status_code in (401, 404)
    assert await notices(runtime) == []

    await runtime.lifecycle.reset_factors(user_id)
    [reset] = await notices(runtime)
    assert "administrator turned off every second factor" in reset


async def test_the_notice_is_queued_by_the_time_the_change_commits(
    client: httpx.AsyncClient, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing after the store's write runs (the events included): the notice is
    queued all the same, since it committed with the change."""
    user_id = await register(client, EMAIL)
    await notices(runtime)

    monkeypatch.setattr(runtime.events, "emit", die)
    with pytest.raises(Died):
        await runtime.accounts.change_password(user_id, PASSWORD, NEW_PASSWORD)
    [changed] = await notices(runtime)
    assert "password was changed" in changed
    await runtime.accounts.authenticate(EMAIL, NEW_PASSWORD, address="203.0.113.7")

    with pytest.raises(Died):
        await runtime.lifecycle.reset_factors(user_id)
    [reset] = await notices(runtime)
    assert "administrator" in reset


async def test_a_notice_that_cannot_be_queued_leaves_the_password_as_it_was(
    client: httpx.AsyncClient, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The outbox's INSERT fails (its primary key is taken): the password change fails
    with it, and the old password still signs in."""
    user_id = await register(client, EMAIL)
    await notices(runtime)
    monkeypatch.setattr("authward.mail.sql.new_handle", lambda: "taken-mail-id")
    await runtime.outbox.enqueue(
        Mail(EMAIL, "security_notice", {"email": EMAIL, "event": "A probe."})
    )
    with pytest.raises(IntegrityError):
        await runtime.accounts.change_password(user_id, PASSWORD, NEW_PASSWORD)
    monkeypatch.undo()
    await runtime.accounts.authenticate(EMAIL, PASSWORD, address="203.0.113.7")
    assert len(await mails(runtime)) == 1  # the probe only


# --- the email change: its notice goes to the old address --------------------------------


async def email_change_link(runtime: Runtime, user_id: UserId) -> str:
    """Ask for the move to NEW_EMAIL; the confirmation link's token (the mails taken)."""
    await mails(runtime)
    await runtime.flows.email_change.send(user_id, NEW_EMAIL)
    return token_of(next(m for m in await mails(runtime) if m.template == "email_change_confirm"))


async def changed_notices(runtime: Runtime) -> list[str]:
    """The address of each "changed" notice queued since the last call."""
    taken = [m for m in await mails(runtime) if m.template == "email_change_notice"]
    assert all(NEW_EMAIL in m.body.text for m in taken)
    return [m.to for m in taken]


async def email_of(runtime: Runtime, user_id: UserId) -> str:
    user = await runtime.accounts.users.get(user_id)
    assert user is not None
    return user.email


async def test_an_email_changes_notice_is_queued_by_the_time_the_change_commits(
    client: httpx.AsyncClient, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing after the store's write runs (the links' voiding, the events): the old
    address is told all the same, since its notice committed with the change."""
    user_id = await register(client, EMAIL)
    token = await email_change_link(runtime, user_id)

    monkeypatch.setattr(runtime.accounts.links.store, "void", die)
    monkeypatch.setattr(runtime.events, "emit", die)
    with pytest.raises(Died):
        await runtime.flows.verification.verify(token)
    assert await email_of(runtime, user_id) == NEW_EMAIL
    assert await changed_notices(runtime) == [EMAIL]


async def test_a_notice_that_cannot_be_queued_leaves_the_email_as_it_was(
    client: httpx.AsyncClient, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The outbox's INSERT fails (its primary key is taken): the email change fails with
    it (not as a taken address), and the account keeps its address."""
    user_id = await register(client, EMAIL)
    token = await email_change_link(runtime, user_id)
    monkeypatch.setattr("authward.mail.sql.new_handle", lambda: "taken-mail-id")
    await runtime.outbox.enqueue(
        Mail(EMAIL, "security_notice", {"email": EMAIL, "event": "A probe."})
    )
    with pytest.raises(IntegrityError):
        await runtime.flows.verification.verify(token)
    monkeypatch.undo()
    assert await email_of(runtime, user_id) == EMAIL
    assert [m.template for m in await mails(runtime)] == ["security_notice"]  # the probe only


async def test_an_email_change_confirmed_by_many_requests_at_once_is_told_once(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    """Ten confirmations of the link at once (a double click, a mail scanner's replay):
    one moves the account, the others are refused, and the old address hears once."""
    user_id = await register(client, EMAIL)
    token = await email_change_link(runtime, user_id)
    verify = runtime.flows.verification.verify
    results = await asyncio.gather(*(verify(token) for _ in range(10)), return_exceptions=True)
    assert results.count(user_id) == 1
    assert all(isinstance(r, InvalidLink) for r in results if r != user_id)
    assert await email_of(runtime, user_id) == NEW_EMAIL
    assert await changed_notices(runtime) == [EMAIL]


async def test_an_email_change_that_changes_nothing_tells_nobody(
    client: httpx.AsyncClient, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The account moves elsewhere between the flow's read and its write (another
    confirmation, an operator): the write expects the old address and changes no row,
    the link is refused, and no "changed" notice is queued for a change that did not
    happen."""
    user_id = await register(client, EMAIL)
    token = await email_change_link(runtime, user_id)
    users = runtime.accounts.users
    read = users.get

    async def read_then_moved(user_id: UserId) -> User | None:
        user = await read(user_id)
        monkeypatch.setattr(users, "get", read)  # once
        assert await users.change_email(user_id, "ada@elsewhere.example", expected=EMAIL)
        return user

    monkeypatch.setattr(users, "get", read_then_moved)
    with pytest.raises(InvalidLink):
        await runtime.flows.verification.verify(token)
    assert await email_of(runtime, user_id) == "ada@elsewhere.example"
    assert await changed_notices(runtime) == []


class AppUsers(MemoryUserStore):
    """An application's own user store, as docs/library.md describes one: its
    `set_password_hash` and `change_email` take no `then`."""

    async def set_password_hash(self, user_id: UserId, password_hash: str) -> None:  # type: ignore[override]
        await super().set_password_hash(user_id, password_hash)

    async def change_email(self, user_id: UserId, email: str, *, expected: str) -> bool:  # type: ignore[override]
        return await super().change_email(user_id, email, expected=expected)


@pytest.fixture
async def own_users(tmp_path: Path, clock: FrozenClock) -> AsyncIterator[Runtime]:
    """A runtime over an application's own user store."""
    settings = make_settings(tmp_path, public_url="https://testserver")
    runtime = build_runtime(settings, clock=clock, user_store=AppUsers())
    await runtime.open(background=False)
    yield runtime
    await runtime.close()


async def test_over_an_applications_user_store_a_password_notice_follows_its_event(
    own_users: Runtime,
) -> None:
    user = await own_users.accounts.register(EMAIL, PASSWORD)
    await notices(own_users)
    await own_users.accounts.change_password(user.id, PASSWORD, NEW_PASSWORD)
    [changed] = await notices(own_users)
    assert "password was changed" in changed
    await own_users.lifecycle.reset_factors(user.id)  # factors: authward's own stores
    [reset] = await notices(own_users)
    assert "administrator" in reset


async def test_over_an_applications_user_store_the_old_address_is_told_once(
    own_users: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    """Its `change_email` takes no `then`: the flow queues the notice just after the
    change, and the ``email_changed`` event (which would find the new address) tries
    none."""
    user = await own_users.accounts.register(EMAIL, PASSWORD)
    token = await email_change_link(own_users, user.id)
    with caplog.at_level(logging.ERROR, "authward.events"):
        await own_users.flows.verification.verify(token)
    assert await changed_notices(own_users) == [EMAIL]
    assert [r.getMessage() for r in caplog.records if r.name == "authward.events"] == []


@pytest.fixture
async def on_postgres_and_redis(
    tmp_path: Path,
    clock: FrozenClock,
    postgres_engine: AsyncEngine,
    postgres_url: str,
    redis_node: tuple[RedisClient, KeyNames],
) -> AsyncIterator[Runtime]:
    """A deployment at scale: sessions in Redis, the rest (the outbox too) in PostgreSQL.
    `postgres_engine` empties the database before and after; `redis_node` its keys."""
    settings = make_settings(
        tmp_path,
        database_url=postgres_url,
        redis_url=REDIS_URL,
        redis_prefix=redis_node[1].prefix,
    )
    runtime = build_runtime(settings, clock=clock)
    await runtime.open(background=False)
    yield runtime
    await runtime.close()


@pytest.mark.postgres
@pytest.mark.redis
async def test_with_redis_the_notice_still_commits_with_the_change(
    on_postgres_and_redis: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime = on_postgres_and_redis
    assert runtime.redis is not None and runtime.engine.dialect.name == "postgresql"
    user = await runtime.accounts.register(EMAIL, PASSWORD)
    await notices(runtime)

    monkeypatch.setattr(runtime.events, "emit", die)
    with pytest.raises(Died):
        await runtime.accounts.change_password(user.id, PASSWORD, NEW_PASSWORD)
    [changed] = await notices(runtime)
    assert "password was changed" in changed
    with pytest.raises(Died):
        await runtime.lifecycle.reset_factors(user.id)
    [reset] = await notices(runtime)
    assert "administrator" in reset
    monkeypatch.undo()
    token = await email_change_link(runtime, user.id)
    monkeypatch.setattr(runtime.events, "emit", die)
    with pytest.raises(Died):
        await runtime.flows.verification.verify(token)
    assert await email_of(runtime, user.id) == NEW_EMAIL
    assert await changed_notices(runtime) == [EMAIL]
