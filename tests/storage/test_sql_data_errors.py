"""The belt under the shape checks: a value PostgreSQL refuses as data is a 422, not a 500.

Every string a client sends is checked before it reaches a query (tests/web's
test_hostile_strings.py). Should one slip through, `translated_errors` turns the
database's data exception (SQLSTATE class 22) into InvalidInput, and says so in the
security log without the value.
"""

from __future__ import annotations

import logging

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from authward.accounts.sql import SqlUserStore
from authward.errors import InvalidInput

UNSTORABLE = ["\x00", "a\x00b@example.com", "\ud800"]  # a NUL (22021); no UTF-8 (22000)


@pytest.mark.postgres
@pytest.mark.parametrize("value", UNSTORABLE, ids=["nul", "nul-inside", "lone-surrogate"])
async def test_a_value_postgres_refuses_is_invalid_input(
    postgres_engine: AsyncEngine, value: str, caplog: pytest.LogCaptureFixture
) -> None:
    users = SqlUserStore(postgres_engine)
    with caplog.at_level(logging.WARNING, logger="authward.security"):
        with pytest.raises(InvalidInput):
            await users.get_by_email(value)
    [record] = [r for r in caplog.records if getattr(r, "event", None) == "unstorable_input"]
    assert value not in record.getMessage()
    assert await users.get_by_email("someone@example.com") is None  # the store still works


async def test_sqlite_keeps_such_values_as_text(sqlite_engine: AsyncEngine) -> None:
    users = SqlUserStore(sqlite_engine)
    assert await users.get_by_email("a\x00b@example.com") is None
