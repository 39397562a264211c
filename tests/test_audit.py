"""The audit log: written by default, pruned by the sweep, and never holding a secret."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx
from sqlalchemy import select

from authward.audit import SqlAuditLog, audit_log
from authward.clock import FrozenClock
from authward.runtime import Runtime, build_runtime
from tests.conftest import http_client, make_settings
from tests.web.helpers import PASSWORD, register, session_cookie, session_login


async def test_events_are_written_with_no_secret_in_them(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    user_id = await register(client, "ada@example.com")
    csrf = await session_login(client, "ada@example.com")
    session_id = session_cookie(client)
    tokens = (
        await client.post("/auth/token", json={"email": "ada@example.com", "password": PASSWORD})
    ).json()
    await client.post("/auth/session/logout", headers={"X-CSRF-Token": csrf})
    assert runtime.audit is not None
    records = await runtime.audit.list()
    assert [r.event for r in records] == ["logout", "login", "login", "register"]
    assert all(r.user_id == user_id and r.ip == "203.0.113.7" for r in records)
    async with runtime.engine.connect() as conn:
        rows = (await conn.execute(select(audit_log))).all()
    stored = " ".join(str(value) for row in rows for value in row)
    secrets = [PASSWORD, "ada@example.com", session_id, csrf, *tokens.values()]
    assert not [s for s in secrets if str(s) in stored]


async def test_filters_and_prune(runtime: Runtime, clock: FrozenClock) -> None:
    assert runtime.audit is not None
    await runtime.events.emit("login", user_id="old", via="jwt", handle="f1")
    clock.advance(timedelta(days=runtime.settings.audit_retention_days + 1))
    await runtime.events.emit("logout", user_id="new", via="session", handle="s1")
    assert [r.user_id for r in await runtime.audit.list(event="login")] == ["old"]
    assert [r.event for r in await runtime.audit.list(user_id="new")] == ["logout"]
    removed = await runtime.sweep()
    assert removed["audit_records"] == 1
    assert [r.user_id for r in await runtime.audit.list()] == ["new"]


async def test_audit_log_can_be_turned_off(tmp_path: Path, clock: FrozenClock) -> None:
    runtime = build_runtime(make_settings(tmp_path, audit_log=False), clock=clock)
    await runtime.open(background=False)
    try:
        assert runtime.audit is None
        async with http_client(runtime) as client:
            await register(client, "ada@example.com")
        assert await SqlAuditLog(runtime.engine).list() == []
    finally:
        await runtime.close()
