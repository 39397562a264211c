"""Issue 14: two workers on one SQLite file, after the sweep emptied the revocations table.

Once every revocation had run out and the sweep had removed them all, SQLite gave the next
one id 1 again, below what every worker had read: a token revoked on one worker answered
200 on the other for the rest of its life, and ``authward users disable`` from the command
line was never seen by the server. Here two ``authward serve`` processes share one SQLite
file, as ``--workers 2`` does, each on a port of its own so that the test can ask each; the
table is emptied by the sweep; then a revocation made through either worker's API or the
command line must be refused by every worker within the poll interval (and the round trips
of a polling client).

The probe is ``GET /auth/sessions``: it trusts the credential alone, as an application's
own routes do (``/auth/me`` also reads the account, and would refuse a disabled user's
token without any revocation). The module runs twice: with every session read from the
database, and with the session cache on, where the end of a session reaches the other
worker through the same table. It runs a third time on the defaults but for a poll
interval far past the deadline: the session cache is then on by default, and a refusal
in time comes by the datagrams between the processes on the file (the command line's
included), not by a poll, 60 s apart.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from authward.clock import SystemClock
from authward.revocation.sql import SqlRevocationBus, revocations
from authward.storage.sql import create_engine
from tests.scaleout.nodes import (
    Node,
    credential,
    new_account,
    node_env,
    start_node,
    wait_until_answering,
)

POLL = 0.2  # AUTHWARD_REVOCATION_POLL_INTERVAL of the workers
NO_POLL = 60.0  # a poll interval no test here waits for: only the push can be in time
# A session cache TTL far above the deadline: a cached session refused in time was
# refused because the end of it came through the table, not because its copy aged out.
CACHE_TTL = 30.0
SLACK = 3.0  # the HTTP round trips of the polling client on a busy two-core machine
DEADLINE = POLL + SLACK
CLI_TIMEOUT = 60.0  # seconds: a cold start of the command on a busy machine
WARM_UP_FAMILIES = 5  # more rows than any one revocation below adds to the table


@dataclass
class Workers:
    """Two workers on one SQLite file, and what the command line needs to join them."""

    database_url: str
    workdir: Path
    env: dict[str, str]
    nodes: list[Node]


@dataclass
class Holder:
    """An account signed in on worker a, by token and by session cookie."""

    account: dict[str, str]
    token: str
    cookie: str

    @property
    def credentials(self) -> dict[str, dict[str, str]]:
        return {"token": credential(token=self.token), "session": credential(cookie=self.cookie)}


@pytest.fixture(
    scope="module",
    params=[
        {"revocation_poll_interval": str(POLL), "session_cache_ttl": "0"},
        {"revocation_poll_interval": str(POLL), "session_cache_ttl": str(CACHE_TTL)},
        {"revocation_poll_interval": str(NO_POLL)},  # and the session cache's default
    ],
    ids=["store", "session-cache", "pushed-defaults"],
)
def workers(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Workers]:
    workdir = tmp_path_factory.mktemp("workers")
    database_url = f"sqlite:///{workdir}/authward.db"
    env = node_env(
        database_url,
        **request.param,
        sweep_interval="86400",  # the test sweeps, when it needs to
    )
    # One after the other, as `--workers 2` starts its workers after one migration: two
    # processes migrating a new SQLite file at once race on its schema.
    nodes: list[Node] = []
    try:
        for name in "ab":
            nodes.append(start_node(workdir, name, env))
            wait_until_answering(nodes[-1])
        yield Workers(database_url, workdir, env, nodes)
    finally:
        for node in nodes:
            node.stop()


@pytest.fixture
async def clients(workers: Workers) -> AsyncIterator[list[httpx.AsyncClient]]:
    made = [httpx.AsyncClient(base_url=node.base, timeout=10) for node in workers.nodes]
    yield made
    for client in made:
        await client.aclose()


@pytest.fixture
async def holder(workers: Workers, clients: list[httpx.AsyncClient]) -> Holder:
    """Signed in on a, known to both workers (a session in each one's cache, when on),
    and the table emptied by the sweep after both workers had read rows from it."""
    await sweep_after_both_read(workers, clients)
    a = clients[0]
    account = new_account()
    assert (await a.post("/auth/register", json=account)).status_code == 201
    token = (await a.post("/auth/token", json=account)).json()["access_token"]
    login = await a.post("/auth/session/login", json=account)
    assert login.status_code == 200
    a.cookies.clear()
    signed_in = Holder(account, token, login.cookies["authward_session"])
    for client in clients:
        for headers in signed_in.credentials.values():
            assert await status(client, headers) == 200
    return signed_in


async def test_a_token_revoked_on_one_worker_is_refused_by_every_worker(
    clients: list[httpx.AsyncClient], holder: Holder
) -> None:
    a, _ = clients
    token = holder.credentials["token"]
    assert (await a.post("/auth/token/revoke", headers=token)).status_code == 204
    await refused_everywhere(clients, {"token": token})


async def test_logout_all_on_one_worker_is_refused_by_every_worker(
    clients: list[httpx.AsyncClient], holder: Holder
) -> None:
    a, _ = clients
    assert (
        await a.post("/auth/logout-all", headers=holder.credentials["token"])
    ).status_code == 204
    await refused_everywhere(clients, holder.credentials)


async def test_users_disable_on_the_command_line_is_refused_by_every_worker(
    workers: Workers, clients: list[httpx.AsyncClient], holder: Holder
) -> None:
    await command(workers, "users", "disable", holder.account["email"])
    await refused_everywhere(clients, holder.credentials)


async def test_sessions_revoke_all_on_the_command_line_is_refused_by_every_worker(
    workers: Workers, clients: list[httpx.AsyncClient], holder: Holder
) -> None:
    await command(workers, "sessions", "revoke", holder.account["email"], "--all")
    await refused_everywhere(clients, holder.credentials)


async def test_sessions_revoke_one_on_the_command_line_is_refused_by_every_worker(
    workers: Workers, clients: list[httpx.AsyncClient], holder: Holder
) -> None:
    a, _ = clients
    listed = await a.get("/auth/sessions", headers=holder.credentials["token"])
    handles = {entry["kind"]: entry["id"] for entry in listed.json()}
    for kind, name in (("jwt", "token"), ("session", "session")):
        # "--": a handle may start with "-", which would read as an option.
        await command(workers, "sessions", "revoke", holder.account["email"], "--", handles[kind])
        await refused_everywhere(clients, {name: holder.credentials[name]})


# --- helpers ------------------------------------------------------------------------------


async def status(client: httpx.AsyncClient, headers: dict[str, str]) -> int:
    """The answer of a route that trusts the credential alone: 200, or 401 once refused."""
    answer = (await client.get("/auth/sessions", headers=headers)).status_code
    assert answer in (200, 401), answer
    return answer


async def refused_everywhere(
    clients: list[httpx.AsyncClient], credentials: dict[str, dict[str, str]]
) -> None:
    """Ask every worker with every credential until each is refused; fail at the deadline."""
    deadline = time.monotonic() + DEADLINE
    pending = {(worker, name) for worker in range(len(clients)) for name in credentials}
    while pending:
        for worker, name in sorted(pending):
            if await status(clients[worker], credentials[name]) == 401:
                pending.discard((worker, name))
        if pending and time.monotonic() > deadline:
            still = ", ".join(
                f"{name} on worker {'ab'[worker]}" for worker, name in sorted(pending)
            )
            raise AssertionError(f"still accepted {DEADLINE} s after the revocation: {still}")
        await asyncio.sleep(POLL / 4)


async def sweep_after_both_read(workers: Workers, clients: list[httpx.AsyncClient]) -> None:
    """Revoke enough that both workers' floors are past the ids an emptied table would hand
    out again, wait until both have read them, then sweep as it sweeps once all have run out."""
    a, _ = clients
    account = new_account()
    assert (await a.post("/auth/register", json=account)).status_code == 201
    tokens = [(await a.post("/auth/token", json=account)).json() for _ in range(WARM_UP_FAMILIES)]
    first = credential(token=tokens[0]["access_token"])
    assert (await a.post("/auth/logout-all", headers=first)).status_code == 204
    await refused_everywhere(
        clients, {str(i): credential(token=t["access_token"]) for i, t in enumerate(tokens)}
    )
    engine = create_engine(workers.database_url)
    try:
        a_day_on = datetime.now(UTC) + timedelta(days=1)  # every revocation has run out
        await SqlRevocationBus(engine, SystemClock()).sweep(a_day_on)
        async with engine.connect() as conn:
            left = (await conn.execute(select(func.count()).select_from(revocations))).scalar()
        assert left is not None and left <= 1  # the newest may stay: it holds the highest id
    finally:
        await engine.dispose()


async def command(workers: Workers, *args: str) -> None:
    """Run ``authward ARGS`` as an operator would, with the workers' own settings."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "authward",
        *args,
        cwd=workers.workdir,
        env={**os.environ, **workers.env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), CLI_TIMEOUT)
    assert process.returncode == 0, output.decode(errors="replace")
