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
* Redis, *before*: redis-py's pure-Python reply parser; *after*: hiredis's (what the
  client uses once hiredis is installed).

A *floor* row is the trip alone (a thread hop, ``SELECT 1``, ``PING``): what no read can
go below on this machine at this load; on PostgreSQL, ``SELECT 1`` through each path,
and on one bare asyncpg connection (*raw*). The clock stands still at the session's last
sight, so no check slides the idle deadline (a write): this is the read. *Added µs* is
the median of per-round differences against the memory store; *after / before* the
median of per-round ratios; *CPU µs* this process's CPU time per check (what the app
server pays; PostgreSQL's own is not in it), and *added CPU* its median per-round
difference. The account read (`SqlUserStore.get`, what ``/auth/me`` makes when the
account cache misses) is measured the same way. PostgreSQL is ``BENCH_POSTGRES_URL``'s
server (a database made for the run); Redis a private ``redis-server``.
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
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import asyncpg
from redis._parsers import _AsyncRESP2Parser
from redis.asyncio import BlockingConnectionPool, Redis
from sqlalchemy import literal_column, select

from authward import crypto
from authward.accounts.models import User
from authward.accounts.sql import SqlUserStore, users
from authward.clock import FrozenClock
from authward.ids import Device, UserId
from authward.sessions.models import Session
from authward.sessions.redis import RedisSessionStore
from authward.sessions.service import SessionPolicy, SessionService
from authward.sessions.sql import SqlSessionStore, _session, sessions
from authward.sessions.store import MemorySessionStore, SessionStore
from authward.storage.migrate import upgrade
from authward.storage.reads import RowReader
from authward.storage.redis import KeyNames, create_client
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


def pooled(store: SqlSessionStore | SqlUserStore) -> SqlSessionStore | SqlUserStore:
    """`store`, its reads by key on connections of the engine's pool (the path before)."""
    store._read._connect = None
    return store


# What no read can go below: the trip itself, doing nothing.
FLOOR = {
    "SQLite": "floor: a trip to a thread and back, no query",
    "PostgreSQL": "floor: SELECT 1 on a pooled asyncpg connection",
    "Redis": "floor: PING",
}
OWN_FLOOR = "floor: SELECT 1 on the reads' own connections"
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
    cpu_us: float
    added_cpu_us: float | None


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


Rounds = dict[str, list[tuple[float, float]]]  # per case, per round: (wall, CPU) µs


async def timed_rounds(cases: dict[str, Op], rounds: int, target_s: float) -> Rounds:
    """µs per call of each case, per round, wall and this process's CPU; cases take turns,
    each round starting elsewhere."""
    names = list(cases)
    counts = {}
    for name, op in cases.items():  # calibrate: about `target_s` per case and round
        began, n = time.perf_counter(), 0
        while time.perf_counter() - began < target_s / 4:
            await op()
            n += 1
        counts[name] = max(20, n * 4)
    out: Rounds = {name: [] for name in names}
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            op, n = cases[name], counts[name]
            began, cpu = time.perf_counter(), time.process_time()
            for _ in range(n):
                await op()
            wall_us = (time.perf_counter() - began) / n * 1e6
            out[name].append((wall_us, (time.process_time() - cpu) / n * 1e6))
    return out


def summarise(store: str, per_round: Rounds) -> list[Row]:
    base = per_round["no store read (memory)"]
    rows = []
    for case, values in per_round.items():
        pairs = list(zip(values, base, strict=True))
        added = added_cpu = None
        if values is not base:
            added = statistics.median(v[0] - b[0] for v, b in pairs)
            added_cpu = statistics.median(v[1] - b[1] for v, b in pairs)
        ratio = None
        if case.startswith("after"):
            before = per_round[case.replace("after", "before", 1)]
            ratio = statistics.median(a[0] / b[0] for a, b in zip(values, before, strict=True))
        wall = statistics.median(v[0] for v in values)
        cpu = statistics.median(v[1] for v in values)
        rows.append(Row(store, case, wall, added, ratio, cpu, added_cpu))
    return rows


async def sql_rows(name: str, url: str, rounds: int, target_s: float) -> list[Row]:
    clock = FrozenClock()
    engine = create_engine(url)
    raw = (
        await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
        if (name == "PostgreSQL")
        else None
    )
    try:
        await upgrade(engine)
        memory = MemorySessionStore()
        after = SqlSessionStore(engine)
        user_store, old_users = SqlUserStore(engine), SqlUserStore(engine)
        before: SessionStore
        if name == "PostgreSQL":
            before = pooled(SqlSessionStore(engine))
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
        if raw is not None:
            checks[OWN_FLOOR] = RowReader(engine, select(literal_column("1"))).one
            checks[RAW_FLOOR] = lambda: raw.fetchval("SELECT 1")
            by_digest = select(sessions).where(sessions.c.id_digest == crypto.digest(sql_id))
            query = str(by_digest.compile(dialect=engine.dialect))
            checks[RAW_SESSION] = lambda: raw.fetchrow(query, crypto.digest(sql_id))
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
    fast = create_client(url)
    slow = Redis.from_pool(
        BlockingConnectionPool.from_url(url, parser_class=_AsyncRESP2Parser, max_connections=100)
    )
    try:
        memory = MemorySessionStore()
        after = RedisSessionStore(fast, keys=keys)
        before = RedisSessionStore(slow, keys=keys)
        memory_id = await seeded(memory, clock)
        redis_id = await seeded(after, clock)
        on_memory, on_before, on_after = (service(s, clock) for s in (memory, before, after))
        checks: dict[str, Op] = {
            "no store read (memory)": lambda: on_memory.resume(memory_id),
            FLOOR["Redis"]: fast.ping,
            "before: session check": lambda: on_before.resume(redis_id),
            "after: session check": lambda: on_after.resume(redis_id),
        }
        rows = summarise("Redis", await timed_rounds(checks, rounds, target_s))
        await after.remove(crypto.digest(redis_id))
        return rows
    finally:
        await fast.aclose()
        await slow.aclose()


def markdown(rows: list[Row]) -> str:
    lines = [
        "| store | case | µs/check | added over no read, µs | after / before "
        "| CPU µs/check | added CPU µs |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        added = "" if r.added_us is None else f"{r.added_us:,.1f}"
        ratio = "" if r.ratio is None else f"{r.ratio:.2f}×"
        added_cpu = "" if r.added_cpu_us is None else f"{r.added_cpu_us:,.1f}"
        lines.append(
            f"| {r.store} | {r.case} | {r.us:,.1f} | {added} | {ratio} "
            f"| {r.cpu_us:,.1f} | {added_cpu} |"
        )
    return "\n".join(lines)


def main() -> None:
    import stores  # the benchmarks' own: a private Redis, a database made for the run
    import uvloop

    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--stores", nargs="*", default=["SQLite", "PostgreSQL", "Redis"])
    args = parser.parse_args()
    rounds, target_s = (3, 0.02) if args.quick else (15, 0.15)
    rows: list[Row] = []
    started = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as work:
        if "SQLite" in args.stores:
            url = f"sqlite:///{work}/reads.db"
            rows += uvloop.run(sql_rows("SQLite", url, rounds, target_s))
        if "PostgreSQL" in args.stores:
            with stores.postgres_database() as url:
                if url is None:
                    print("PostgreSQL: not reachable, skipped", file=sys.stderr)
                else:
                    rows += uvloop.run(sql_rows("PostgreSQL", url, rounds, target_s))
        if "Redis" in args.stores:
            with stores.redis_server(Path(work)) as url:
                if url is None:
                    print("Redis: no redis-server, skipped", file=sys.stderr)
                else:
                    rows += uvloop.run(redis_rows(url, rounds, target_s))
    print(markdown(rows))
    print(f"\n1-min load average: {started:.2f} at start, {os.getloadavg()[0]:.2f} at end")


if __name__ == "__main__":
    main()
