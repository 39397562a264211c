"""What a store read adds to a session check, before and after the one-hop reads.

    .venv-bench/bin/python benchmarks/storereads.py            # SQLite, PostgreSQL, Redis
    .venv-bench/bin/python benchmarks/storereads.py --quick    # a smoke test

`SessionService.resume` with no session cache (the default), in one process, against
the same service on a memory store (the check without a read: the baseline). For each
store two paths take turns, round after round, each round starting with another case:

* SQLite, *before*: the read as it was, through SQLAlchemy's async engine
  (``engine.connect()``, ``execute``, ``mappings().first()``); *after*: the store's own
  `get` (`authward.storage.reads`: one thread hop).
* PostgreSQL, *before*: the one-hop read as it was, one ``fetchrow`` on a connection
  checked out of the engine's pool (and checked in again); *after*: the store's own `get`
  (one ``fetchrow`` on one of the reads' own connections, no pool).
* Redis, *before*: ``HGETALL`` through the client (``Redis.hgetall``: the pool's
  checkout and checkin, its retry wrapper), hiredis parsing; *after*: the store's own
  `get` (``HMGET`` pipelined on a connection of its own, `authward.storage.redis_reads`).

A *floor* row is the trip alone (a thread hop, ``SELECT 1``, ``PING``): what no read can
go below on this machine at this load. SQLite has two: a trip to an executor's thread
with nothing to do, and ``SELECT 1`` on the store's own reader threads (its hand-off, no
row to convert). PostgreSQL has three: ``SELECT 1`` through the
pool, on the reads' own connections, and on one bare asyncpg connection (*raw*; with
the session's own SELECT there too). Redis has three: ``PING`` through the client, on
the store's pipelined connection, and on a plain asyncio socket (no client at all: what
the loop and the kernel cost). The clock stands still at the session's last
sight, so no check slides the idle deadline (a write): this is the read. *Added µs* is
the median of per-round differences against the memory store; *after / before* the
median of per-round ratios; *CPU µs* this process's CPU time per check, all its threads
(the client's work, steadier than wall time on a busy machine). The account read
(`SqlUserStore.get`, what ``/auth/me`` makes when the account cache misses) is measured
the same way. PostgreSQL is
``BENCH_POSTGRES_URL``'s server (a database made for the run); Redis a private ``redis-server``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

import asyncpg
import hiredis
from redis.asyncio import Redis
from sqlalchemy import literal_column, select

from authward import crypto
from authward.accounts.models import User
from authward.accounts.sql import SqlUserStore, users
from authward.clock import FrozenClock
from authward.ids import Device, UserId
from authward.sessions.models import Session
from authward.sessions.redis import RedisSessionStore
from authward.sessions.redis import _session as _redis_session
from authward.sessions.service import SessionPolicy, SessionService
from authward.sessions.sql import SqlSessionStore, _session, sessions
from authward.sessions.store import MemorySessionStore, SessionStore
from authward.storage.migrate import upgrade
from authward.storage.reads import RowReader
from authward.storage.redis import KeyNames, create_client
from authward.storage.redis import translated_errors as redis_errors
from authward.storage.redis_reads import PipelinedReads
from authward.storage.sql import create_engine, translated_errors

POLICY = SessionPolicy(timedelta(minutes=30), timedelta(hours=12), max_per_user=10)
Op = Callable[[], Awaitable[Any]]


class SqlAlchemySessionStore(SqlSessionStore):
    """The SQL store with the read it had before: SQLAlchemy's async engine end to end."""

    def __init__(self, engine: Any) -> None:
        super().__init__(engine)
        self._engine_ = engine

    async def get(self, id_digest: bytes) -> Session | None:
        query = select(sessions).where(sessions.c.id_digest == id_digest)
        async with translated_errors(), self._engine_.connect() as conn:
            row = (await conn.execute(query)).mappings().first()
        return None if row is None else _session(row)


class ClientHgetallSessionStore(RedisSessionStore):
    """The Redis store with the read it had before: ``HGETALL`` through the client."""

    async def get(self, id_digest: bytes) -> Session | None:
        async with redis_errors():
            fields = await self._client.hgetall(self._session_key(id_digest.hex()))
        return _redis_session(id_digest, fields) if fields else None


class _Ping(asyncio.Protocol):
    """A plain asyncio socket speaking RESP, one PING at a time: no client in the way."""

    def __init__(self) -> None:
        self._reader = hiredis.Reader()
        self._answer: asyncio.Future[Any] | None = None
        self._transport: Any = None  # uvloop's transports are not asyncio.Transport

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        self._reader.feed(data)
        if (reply := self._reader.gets()) is not False and self._answer is not None:
            self._answer.set_result(reply)

    async def ping(self) -> None:
        self._answer = asyncio.get_running_loop().create_future()
        self._transport.write(b"*1\r\n$4\r\nPING\r\n")
        await self._answer

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


def pooled(store: SqlSessionStore | SqlUserStore) -> None:
    """Make `store` read by key on connections of the engine's pool (the path before)."""
    store._read._connect = None


# What no read can go below: the trip itself, doing nothing.
FLOOR = {
    "SQLite": "floor: a trip to a thread and back, no query",
    "PostgreSQL": "floor: SELECT 1 on a pooled asyncpg connection",
}
OWN_FLOOR = "floor: SELECT 1 on the reads' own connections"
THREADS_FLOOR = "floor: SELECT 1 on the reader threads (the store's trip, no row)"
RAW_FLOOR = "raw: SELECT 1 on one bare asyncpg connection"
RAW_SESSION = "raw: the session's SELECT on one bare asyncpg connection"


def floor(engine: Any, store: str) -> Op:
    if store == "SQLite":
        threads = ThreadPoolExecutor(1)

        async def trip() -> None:
            await asyncio.get_running_loop().run_in_executor(threads, int)

        return trip

    async def select_1() -> None:
        async with engine.connect() as conn:
            driver = (await conn.get_raw_connection()).driver_connection
            await driver.fetchval("SELECT 1")

    return select_1


@dataclass
class Row:
    store: str
    case: str
    us: float
    added_us: float | None
    ratio: float | None  # after / before
    cpu_us: float  # this process's CPU time per check


def service(store: SessionStore, clock: FrozenClock) -> SessionService:
    return SessionService(store, POLICY, clock, csrf_key=b"k" * 32)


async def seeded(store: SessionStore, clock: FrozenClock) -> str:
    """A live session in `store`, last seen now (so a check makes no write)."""
    session_id = crypto.new_token()
    now = clock.now()
    await store.add(
        Session(
            crypto.digest(session_id),
            crypto.new_handle(),
            UserId("bench-user"),
            now,
            now,
            now + POLICY.idle_ttl,
            now + POLICY.absolute_ttl,
            Device("bench", "127.0.0.1"),
        )
    )
    return session_id


async def timed_rounds(
    cases: dict[str, Op], rounds: int, target_s: float
) -> dict[str, list[tuple[float, float]]]:
    """(wall, CPU) µs per call of each case, per round; cases take turns, each round
    starting elsewhere. CPU is this process's alone: what the client costs, whatever else
    the machine runs (a server's share, and waiting, are in the wall time only)."""
    names = list(cases)
    counts = {}
    for name, op in cases.items():  # calibrate: about `target_s` per case and round
        began, n = time.perf_counter(), 0
        while time.perf_counter() - began < target_s / 4:
            await op()
            n += 1
        counts[name] = max(20, n * 4)
    out: dict[str, list[tuple[float, float]]] = {name: [] for name in names}
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            op, n = cases[name], counts[name]
            began, cpu = time.perf_counter(), time.process_time()
            for _ in range(n):
                await op()
            wall = (time.perf_counter() - began) / n * 1e6
            out[name].append((wall, (time.process_time() - cpu) / n * 1e6))
    return out


def summarise(store: str, per_round: dict[str, list[tuple[float, float]]]) -> list[Row]:
    walls = {case: [wall for wall, _ in values] for case, values in per_round.items()}
    cpus = {case: [cpu for _, cpu in values] for case, values in per_round.items()}
    base = walls["no store read (memory)"]
    rows = []
    for case, values in walls.items():
        differences = (v - b for v, b in zip(values, base, strict=True))
        added = None if case == "no store read (memory)" else statistics.median(differences)
        ratio = None
        if case.startswith("after"):
            before = walls[case.replace("after", "before", 1)]
            ratio = statistics.median(a / b for a, b in zip(values, before, strict=True))
        cpu = statistics.median(cpus[case])
        rows.append(Row(store, case, statistics.median(values), added, ratio, cpu))
    return rows


async def sql_rows(name: str, url: str, rounds: int, target_s: float) -> list[Row]:
    clock = FrozenClock()
    engine = create_engine(url)
    postgres = name == "PostgreSQL"
    raw = await asyncpg.connect(url.replace("+asyncpg", "")) if postgres else None
    try:
        await upgrade(engine)
        memory = MemorySessionStore()
        after = SqlSessionStore(engine)
        user_store, old_users = SqlUserStore(engine), SqlUserStore(engine)
        before: SessionStore
        if postgres:
            before = SqlSessionStore(engine)
            pooled(before)
            pooled(old_users)
            account_before: Op = lambda: old_users.get(user.id)  # noqa: E731
        else:
            before = SqlAlchemySessionStore(engine)
            account_before = lambda: old_users._one(users.c.id == user.id)  # noqa: E731
        memory_id = await seeded(memory, clock)
        sql_id = await seeded(after, clock)
        email = f"{crypto.new_handle()}@bench.example"
        user = User(UserId(crypto.new_handle()), email, "x", clock.now())
        await user_store.add(user)
        on_memory, on_before, on_after = (service(s, clock) for s in (memory, before, after))
        checks: dict[str, Op] = {
            "no store read (memory)": lambda: on_memory.resume(memory_id),
            FLOOR[name]: floor(engine, name),
        }
        if not postgres:
            checks[THREADS_FLOOR] = RowReader(engine, select(literal_column("1"))).one
        if raw is not None:
            digest = crypto.digest(sql_id)
            by_digest = select(sessions).where(sessions.c.id_digest == digest)
            query = str(by_digest.compile(dialect=engine.dialect))
            checks[OWN_FLOOR] = RowReader(engine, select(literal_column("1"))).one
            checks[RAW_FLOOR] = lambda: raw.fetchval("SELECT 1")
            checks[RAW_SESSION] = lambda: raw.fetchrow(query, digest)
        checks |= {
            "before: session check": lambda: on_before.resume(sql_id),
            "after: session check": lambda: on_after.resume(sql_id),
            "before: account read": account_before,
            "after: account read": lambda: user_store.get(user.id),
        }
        return summarise(name, await timed_rounds(checks, rounds, target_s))
    finally:
        if raw is not None:
            await raw.close()
        await engine.dispose()


async def redis_rows(url: str, rounds: int, target_s: float) -> list[Row]:
    clock = FrozenClock()
    keys = KeyNames("bench-" + crypto.new_handle()[:8])
    client = create_client(url)
    assert isinstance(client, Redis)
    parts = urlsplit(url)
    _, raw = await asyncio.get_running_loop().create_connection(_Ping, parts.hostname, parts.port)
    pipelined = PipelinedReads(client)
    try:
        memory = MemorySessionStore()
        after = RedisSessionStore(client, keys=keys)
        before = ClientHgetallSessionStore(client, keys=keys)
        memory_id = await seeded(memory, clock)
        redis_id = await seeded(after, clock)
        on_memory, on_before, on_after = (service(s, clock) for s in (memory, before, after))
        checks: dict[str, Op] = {
            "no store read (memory)": lambda: on_memory.resume(memory_id),
            "floor: PING on a plain asyncio socket": raw.ping,
            "floor: PING through the client": client.ping,
            "floor: PING on the pipelined connection": lambda: pipelined.read("PING"),
            "before: session check": lambda: on_before.resume(redis_id),
            "after: session check": lambda: on_after.resume(redis_id),
        }
        rows = summarise("Redis", await timed_rounds(checks, rounds, target_s))
        await after.remove(crypto.digest(redis_id))
        return rows
    finally:
        raw.close()
        await client.aclose()


def markdown(rows: list[Row]) -> str:
    lines = [
        "| store | case | µs/check | added over no read, µs | after / before | CPU µs/check |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        added = "" if r.added_us is None else f"{r.added_us:,.1f}"
        ratio = "" if r.ratio is None else f"{r.ratio:.2f}×"
        cpu = f"{r.cpu_us:,.1f}"
        lines.append(f"| {r.store} | {r.case} | {r.us:,.1f} | {added} | {ratio} | {cpu} |")
    return "\n".join(lines)


# Target 2 of issue 19: what a session check's store read may add, µs, with no cache.
TARGET_ADDED_US = {"SQLite": 100.0, "PostgreSQL": 300.0, "Redis": 150.0}
SESSION_CHECK = "after: session check"


def measure(*, quick: bool, stores_wanted: list[str]) -> list[Row]:
    """Every store's rows, each store in a fresh event loop (uvloop, as the servers run)."""
    import stores  # the benchmarks' own: a private Redis, a database made for the run
    import uvloop

    rounds, target_s = (3, 0.02) if quick else (15, 0.15)
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as work:
        if "SQLite" in stores_wanted:
            url = f"sqlite:///{work}/reads.db"
            rows += uvloop.run(sql_rows("SQLite", url, rounds, target_s))
        if "PostgreSQL" in stores_wanted:
            with stores.postgres_database() as url:
                if url is None:
                    print("PostgreSQL: not reachable, skipped", file=sys.stderr)
                else:
                    rows += uvloop.run(sql_rows("PostgreSQL", url, rounds, target_s))
        if "Redis" in stores_wanted:
            with stores.redis_server(Path(work)) as url:
                if url is None:
                    print("Redis: no redis-server, skipped", file=sys.stderr)
                else:
                    rows += uvloop.run(redis_rows(url, rounds, target_s))
    return rows


def run(*, quick: bool) -> dict[str, Any]:
    """`make bench`'s stage: the rows, the machine's load around them, and each store's
    session check against target 2 (wall µs added over the memory store's check, and the
    process's CPU µs added beside it)."""
    load_before = os.getloadavg()[0]
    rows = measure(quick=quick, stores_wanted=list(TARGET_ADDED_US))
    memory_cpu = {r.store: r.cpu_us for r in rows if r.case == "no store read (memory)"}
    checks = {
        r.store: {
            "added_us": r.added_us,
            "cpu_added_us": r.cpu_us - memory_cpu[r.store],
            "goal_us": TARGET_ADDED_US[r.store],
            "after_over_before": r.ratio,
        }
        for r in rows
        if r.case == SESSION_CHECK
    }
    return {
        "rows": [asdict(r) for r in rows],
        "checks": checks,
        "load": [load_before, os.getloadavg()[0]],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--stores", nargs="*", default=["SQLite", "PostgreSQL", "Redis"])
    args = parser.parse_args()
    started = os.getloadavg()[0]
    rows = measure(quick=args.quick, stores_wanted=args.stores)
    print(markdown(rows))
    print(f"\n1-min load average: {started:.2f} at start, {os.getloadavg()[0]:.2f} at end")


if __name__ == "__main__":
    main()
