"""A change's notice mail is queued in the change's own transaction, as the runtime
assembles it (SQLite; the stores' part runs on PostgreSQL too, in
tests/contracts/test_change_notices.py): it is there the moment the change commits, it is
not there when the change is not, and it is queued once, not again by the event.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from authward.accounts.store import MemoryUserStore
from authward.clock import FrozenClock
from authward.events import AuthEvent
from authward.ids import UserId
from authward.mail import Mail
from authward.runtime import Runtime, build_runtime
from authward.settings import Settings
from authward.storage.redis import KeyNames, RedisClient
from tests.conftest import REDIS_URL, make_settings
from tests.web.helpers import PASSWORD, register, session_login
from tests.web.passkey_helpers import SoftKey
from tests.web.test_mailed_links import NEW_PASSWORD, mails
from tests.web.test_passkeys import add

EMAIL = "ada@example.com"


class Died(Exception):
    """The process ending right after the change committed, before anything else ran."""


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

    async def die(*args: object, **kwargs: object) -> AuthEvent:
        raise Died

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


class AppUsers(MemoryUserStore):
    """An application's own user store, as docs/library.md describes one: its
    `set_password_hash` takes no `then`."""

    async def set_password_hash(self, user_id: UserId, password_hash: str) -> None:  # type: ignore[override]
        await super().set_password_hash(user_id, password_hash)


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

    async def die(*args: object, **kwargs: object) -> AuthEvent:
        raise Died

    monkeypatch.setattr(runtime.events, "emit", die)
    with pytest.raises(Died):
        await runtime.accounts.change_password(user.id, PASSWORD, NEW_PASSWORD)
    [changed] = await notices(runtime)
    assert "password was changed" in changed
    with pytest.raises(Died):
        await runtime.lifecycle.reset_factors(user.id)
    [reset] = await notices(runtime)
    assert "administrator" in reset
