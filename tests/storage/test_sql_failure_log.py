"""The SQL failure log's one-statement reservation (the contract suite covers the rest)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from authward.throttle.keys import account_key
from authward.throttle.sql import SqlFailureLog, login_failures

ACCOUNT = account_key("alice@example.com")


async def test_a_key_named_twice_is_refused_before_anything_is_added(
    sqlite_engine: AsyncEngine,
) -> None:
    """Two branches of one statement would each count without the other's add: the key
    could pass its ceiling. A caller's mistake, refused rather than miscounted."""
    now = datetime.now(UTC)
    with pytest.raises(ValueError, match="each key once"):
        await SqlFailureLog(sqlite_engine).reserve(((ACCOUNT, 1), (ACCOUNT, 1)), now, now)
    async with sqlite_engine.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(login_failures)) == 0
