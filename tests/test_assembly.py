"""What `authward.runtime` assembles, and the account rules of `authward.lifecycle`.

The rules are tested through the runtime the routes, the pages and the CLI share: real
SQLite stores, the SQL revocation bus, the session cache where the settings ask for it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import FrozenInstanceError

import pytest

from authward.clock import FrozenClock
from authward.errors import TokenRevoked, WrongPassword
from authward.ids import Device
from authward.runtime import Runtime, build_runtime
from tests.conftest import make_settings
from tests.web.helpers import PASSWORD

PHONE = Device("phone/1", "203.0.113.7")
NEW_PASSWORD = "a different passphrase, long enough"


@pytest.fixture
async def cached(tmp_path: object, clock: FrozenClock) -> AsyncIterator[Runtime]:
    """A runtime whose sessions sit behind this node's cache."""
    built = build_runtime(make_settings(tmp_path, session_cache_ttl=30), clock=clock)
    await built.open(background=False)
    yield built
    await built.close()


async def test_the_runtime_is_frozen(runtime: Runtime) -> None:
    """What was assembled stays assembled: no store is swapped in behind the services."""
    with pytest.raises(FrozenInstanceError):
        runtime.tokens = runtime.tokens  # type: ignore[misc]


async def test_the_assembly_hands_the_session_cache_to_the_service(cached: Runtime) -> None:
    """The fast path (`held`) is wired by the assembly, not found by asking the store."""
    user = await cached.accounts.register("ada@example.com", PASSWORD)
    started = await cached.sessions.start(user.id, PHONE)
    await cached.sessions.resume(started.session_id)
    assert cached.sessions.held(started.session_id) == started.session
    await cached.lifecycle.sign_out_everywhere(user.id)
    assert cached.sessions.held(started.session_id) is None


async def test_a_wrong_current_password_ends_nothing(runtime: Runtime) -> None:
    user = await runtime.accounts.register("ada@example.com", PASSWORD)
    here = await runtime.sessions.start(user.id, PHONE)
    await runtime.sessions.start(user.id, PHONE)
    pair = await runtime.tokens.issue(user.id, PHONE)
    with pytest.raises(WrongPassword):
        await runtime.lifecycle.change_password(
            user.id, "not the password", NEW_PASSWORD, keep_session_id=here.session_id
        )
    assert len(await runtime.sessions.list_live(user.id)) == 2
    assert [f.id for f in await runtime.tokens.list_families(user.id)] == [pair.family.id]
    runtime.tokens.verify(pair.access_token)


async def test_a_password_change_keeps_only_the_callers_family(runtime: Runtime) -> None:
    user = await runtime.accounts.register("ada@example.com", PASSWORD)
    await runtime.sessions.start(user.id, PHONE)
    kept = await runtime.tokens.issue(user.id, PHONE)
    other = await runtime.tokens.issue(user.id, PHONE)
    await runtime.lifecycle.change_password(
        user.id, PASSWORD, NEW_PASSWORD, keep_family=kept.family.id
    )
    assert await runtime.sessions.list_live(user.id) == []
    assert [f.id for f in await runtime.tokens.list_families(user.id)] == [kept.family.id]
    assert runtime.tokens.verify(kept.access_token).sid == kept.family.id
    with pytest.raises(TokenRevoked):
        runtime.tokens.verify(other.access_token)
