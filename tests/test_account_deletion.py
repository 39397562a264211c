"""Deleting an account leaves nothing of it behind, on each SQL backend.

Every table of the schema is searched for the account's id (in any text column) and its
addresses. Two tables keep it on purpose: the audit log (the account's history, found by
its id after it is gone) and the revocations (the deny-list entry that stops its access
tokens on every node until they expire; swept after). The outbox keeps mails already
queued to the address (the deletion does not unsend them; they are pruned after
AUTHWARD_MAIL_RETENTION_DAYS).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pyotp
import pytest
from sqlalchemy import String, func, or_, select
from sqlalchemy.ext.asyncio import AsyncEngine

from authward.accounts.link_sql import account_links
from authward.accounts.sql import users
from authward.audit import audit_log
from authward.clock import FrozenClock
from authward.crypto import new_handle
from authward.factors.models import Passkey
from authward.factors.passkey_sql import passkeys
from authward.factors.sql import mfa_challenges, recovery_codes, totp_factors
from authward.ids import Device
from authward.mail.sql import outbox
from authward.revocation.sql import revocations
from authward.runtime import Runtime, build_runtime
from authward.schema import metadata
from authward.sessions.sql import sessions
from authward.tokens.sql import refresh_families
from tests.conftest import make_settings

# By the Table objects, not their names: a rename of the tables keeps this test true.
KEPT_ON_PURPOSE = {audit_log.name, revocations.name}
PASSWORD = "correct horse battery staple"


@pytest.fixture
async def node(
    sql_engine: AsyncEngine, tmp_path: Path, clock: FrozenClock
) -> AsyncIterator[Runtime]:
    runtime = build_runtime(make_settings(tmp_path), clock=clock, engine=sql_engine)
    await runtime.open(background=False)
    yield runtime
    await runtime.close()


async def rows_naming(engine: AsyncEngine, values: set[str]) -> dict[str, int]:
    """How many rows of each table hold one of `values` in a text column."""
    found: dict[str, int] = {}
    async with engine.connect() as conn:
        for table in metadata.sorted_tables:
            if table.name in KEPT_ON_PURPOSE:
                continue
            columns = [c for c in table.columns if isinstance(c.type, String)]
            if table.name == outbox.name:
                columns = [c for c in columns if c.name != "recipient"]
            if not columns:
                continue
            condition = or_(*(column.in_(values) for column in columns))
            count = await conn.scalar(select(func.count()).select_from(table).where(condition))
            if count:
                found[table.name] = int(count)
    return found


async def test_delete_leaves_nothing_of_the_account(node: Runtime, clock: FrozenClock) -> None:
    ada = await node.accounts.register("ada@example.com", PASSWORD)
    other = await node.accounts.register("bob@example.com", PASSWORD)
    for user in (ada, other):
        enrolment = await node.factors.begin_totp(user.id, user.email)
        await node.factors.confirm_totp(user.id, pyotp.TOTP(enrolment.secret).at(clock.now()))
        await node.factors.challenge(user.id, "session")
        await node.sessions.start(user.id, Device.of("curl/8.5.0", "198.51.100.9"))
        await node.tokens.issue(user.id, Device.of("curl/8.5.0", "198.51.100.9"))
        await node.flows.reset.send(user.email)
        await node.flows.verification.send(user)
        # A passkey as registration leaves it (its public key; the ceremony is the pages').
        await node.passkeys.store.add(
            Passkey(
                id=new_handle(),
                user_id=user.id,
                credential_id=user.id.encode(),
                public_key=b"\x01" * 32,
                sign_count=0,
                name="laptop",
                transports=("internal",),
                backup_eligible=False,
                backed_up=False,
                created_at=clock.now(),
            ),
            limit=node.passkeys.max_passkeys,
        )
    await node.flows.email_change.send(ada.id, "ada.new@example.com")
    values = {ada.id, ada.email, "ada.new@example.com"}
    held = (users, sessions, refresh_families, totp_factors, recovery_codes, mfa_challenges)
    held = (*held, passkeys)
    assert set(await rows_naming(node.engine, values)) >= {
        table.name for table in (*held, account_links)
    }

    await node.lifecycle.delete(ada.id)

    assert await rows_naming(node.engine, values) == {}
    # The other account keeps all of its own.
    assert await node.factors.required(other.id)
    assert len(await rows_naming(node.engine, {other.id, other.email})) >= 7
