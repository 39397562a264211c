"""Two nodes, one database: a TOTP code or a recovery code is accepted on one of them only.

Each node is a whole runtime (its own engine, services and app) on the same SQLite file
or PostgreSQL database, as two `authward serve` processes are; the code is sent to both
at once.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator

import httpx
import pytest

from authward.clock import FrozenClock
from authward.runtime import Runtime, build_runtime
from authward.settings import Settings
from tests.conftest import http_client, make_settings
from tests.web.mfa_helpers import Enrolled, enrolled, first_step


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def node_settings(request: pytest.FixtureRequest, tmp_path: object) -> Settings:
    # A plain function: an async fixture cannot look up another one (pytest-asyncio).
    if request.param == "postgres":
        return make_settings(tmp_path, database_url=request.getfixturevalue("postgres_url"))
    return make_settings(tmp_path)


@pytest.fixture
async def two_nodes(
    node_settings: Settings, clock: FrozenClock
) -> AsyncIterator[tuple[Runtime, Runtime]]:
    settings = node_settings
    nodes = (build_runtime(settings, clock=clock), build_runtime(settings, clock=clock))
    for node in nodes:
        await node.open(background=False)
    yield nodes
    for node in nodes:
        await node.close()


async def enrolled_on(node: Runtime, clock: FrozenClock) -> tuple[str, Enrolled]:
    email = f"ada-{secrets.token_hex(4)}@example.com"  # PostgreSQL's database is shared
    async with http_client(node) as client:
        return email, await enrolled(client, clock, email)


async def test_one_code_sent_to_two_nodes_at_once_is_accepted_once(
    two_nodes: tuple[Runtime, Runtime], clock: FrozenClock
) -> None:
    email, ada = await enrolled_on(two_nodes[0], clock)
    async with http_client(two_nodes[0]) as one, http_client(two_nodes[1]) as other:
        tokens = [await first_step(one, email), await first_step(other, email)]
        code = ada.code(clock.now())
        answers = await asyncio.gather(
            one.post("/auth/mfa", json={"mfa_token": tokens[0], "code": code}),
            other.post("/auth/mfa", json={"mfa_token": tokens[1], "code": code}),
        )
    assert sorted(a.status_code for a in answers) == [200, 401]


async def test_one_recovery_code_sent_to_two_nodes_at_once_is_accepted_once(
    two_nodes: tuple[Runtime, Runtime], clock: FrozenClock
) -> None:
    email, ada = await enrolled_on(two_nodes[0], clock)
    async with http_client(two_nodes[0]) as one, http_client(two_nodes[1]) as other:
        clients: list[httpx.AsyncClient] = [one, other, one, other]
        tokens = [await first_step(c, email) for c in clients]
        answers = await asyncio.gather(
            *(
                c.post("/auth/mfa", json={"mfa_token": t, "recovery_code": ada.recovery_codes[5]})
                for c, t in zip(clients, tokens, strict=True)
            )
        )
    assert sorted(a.status_code for a in answers) == [200, 401, 401, 401]
