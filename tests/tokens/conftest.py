"""Fixtures of the token suites; the builders live in `tests.tokens.factory`."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from authward.clock import FrozenClock
from authward.tokens.service import TokenService
from tests.tokens.factory import ALGORITHMS, BACKENDS, make_service


@pytest.fixture(params=ALGORITHMS)
async def service(
    request: pytest.FixtureRequest, clock: FrozenClock
) -> AsyncIterator[TokenService]:
    """An opened memory-backed service, once per algorithm."""
    built = await make_service(clock, request.param)
    yield built
    await built.close()


@pytest.fixture(params=BACKENDS)
def engine(request: pytest.FixtureRequest) -> AsyncEngine | None:
    """None (memory stores), or an empty migrated SQLite / PostgreSQL database."""
    if request.param == "memory":
        return None
    found: AsyncEngine = request.getfixturevalue(f"{request.param}_engine")
    return found
