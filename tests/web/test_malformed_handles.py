"""DELETE /auth/sessions/{id} with an id no device can have: 404 on every database.

A NUL in the path (``%00``) once reached PostgreSQL, which refuses the character in a
text parameter: the statement failed and the answer was a 500.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from authward.clock import FrozenClock
from authward.runtime import Runtime, build_runtime
from tests.conftest import http_client, make_settings
from tests.web.helpers import register, session_login


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest) -> dict[str, object]:
    """Settings that put the users, sessions and families in the database under test."""
    if request.param == "sqlite":
        return {}  # make_settings' own file
    engine: AsyncEngine = request.getfixturevalue("postgres_engine")
    return {"database_url": engine.url.render_as_string(hide_password=False)}


@pytest.fixture
async def runtime(
    database: dict[str, object], tmp_path: object, clock: FrozenClock
) -> AsyncIterator[Runtime]:
    built = build_runtime(make_settings(tmp_path, **database), clock=clock)
    await built.open(background=False)
    yield built
    await built.close()


@pytest.mark.parametrize("handle", ["a%00b", "%00", "x" * 300, "%C3%A9%F0%9F%9A%80"])
async def test_an_id_no_device_has_is_not_found(runtime: Runtime, handle: str) -> None:
    async with http_client(runtime) as client:
        await register(client, "alice@example.com")
        csrf = await session_login(client, "alice@example.com")
        response = await client.delete(f"/auth/sessions/{handle}", headers={"X-CSRF-Token": csrf})
        assert response.status_code == 404, response.text
        assert (await client.get("/auth/me")).status_code == 200  # nothing else ended
