"""Targets 5 and 7: a session check at 1,000,000 live sessions, and a sweep of 1,000,000.

For each store (SQLite, PostgreSQL, Redis):

1. Two stores of the kind: one holds ``small`` sessions, the other ``large``; in each,
   ``probes`` of them have ids we know. `SessionService.resume` (shape check, digest, one
   store read, expiry) is timed on every probe in random order, the two stores taking
   turns round after round; the ratio is the median of the per-round ratios.
   The filler is written in bulk (sqlite3 ``executemany``, PostgreSQL ``COPY``, a Redis
   script) in the layout the store itself writes, 10 sessions per user; probes go through
   the store's own ``add``. Probes were "seen" in the future, so no touch (a write) falls
   in the measurement: it is the read.
2. The sweep of ``large`` expired sessions while a server answers session requests: the
   library app on the same store, its session cache off (every request reads the store),
   under a closed loop of 4 connections (Python, latencies recorded one by one). The
   sweep runs in its own process as `authward sweep` would: at niceness 10, paced by the
   AUTHWARD_SWEEP_* settings (steps of 200 sessions, working a quarter of the time by
   default), and is stopped at a time limit (4 minutes at full size). p99 is taken in 4 s
   slices: 8 s quiet before the sweep, the sweep's own, 8 s quiet after it; the ratio is
   the median p99 of the sweep's slices over the median of the quiet ones (before and
   after, so that a machine drifting one way over the run does not decide it). A sweep
   stopped at the limit is reported with how far it got: the sessions it removed
   (counted in the store afterwards) of those expired, and per second. SQL: with its
   clock 21 minutes ahead, past the filler's idle deadline (the probes live a day).
   Redis drops expired sessions itself (TTL), so there the filler is first made to
   expire, and the sweep does what is left for it: drop the users' index entries of a
   million vanished sessions. Redis is swept three times (target 7: three runs out of
   three), the filler written and expired again before each.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import random
import select
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from authward import crypto
from authward.cli.loadgen import exchange, percentile_99, request_bytes
from authward.clock import SystemClock
from authward.ids import Device
from authward.pacing import DEFAULT_PACING, Pacing
from authward.sessions.models import Session
from authward.sessions.service import SessionPolicy, SessionService
from authward.sessions.store import SessionStore
from authward.storage.redis import KeyNames, micros, millis_ceil

PER_USER = 10
FILLER_IDLE = timedelta(minutes=20)  # the filler is live until then...
SWEEP_AHEAD = FILLER_IDLE + timedelta(minutes=1)  # ...and expired to a sweep this far ahead
PREFIX = "authward:"
QUIET_S = 8.0  # the quiet windows before and after each sweep...
SLICE_S = 4.0  # ...and the slices every window is cut into, the sweep's own too

# The columns the filler fills; the others (how the login authenticated) keep their defaults.
FILLER_COLUMNS = (
    "id_digest", "handle", "user_id", "created_at", "last_seen_at", "idle_expires_at",
    "absolute_expires_at", "user_agent", "ip",
)  # fmt: skip
SQLITE_INSERT = (
    f"INSERT INTO authward_sessions ({', '.join(FILLER_COLUMNS)}) "  # noqa: S608 - constants
    f"VALUES ({', '.join('?' * len(FILLER_COLUMNS))})"
)

_SEED_REDIS = """
local prefix = ARGV[1]
local first, users, per = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
for u = first, first + users - 1 do
  local uid = 'filler-' .. u
  local index = prefix .. '{u:' .. uid .. '}:sessions'
  local handles = prefix .. '{u:' .. uid .. '}:handles'
  for s = 1, per do
    local n = u * per + s
    local hex = redis.sha1hex('s' .. n) .. string.sub(redis.sha1hex('t' .. n), 1, 24)
    local key = prefix .. 'session:' .. hex
    local handle = string.sub(redis.sha1hex('h' .. n), 1, 16)
    redis.call('HSET', key, 'user_id', uid, 'handle', handle, 'created_at', ARGV[5],
      'last_seen_at', ARGV[5], 'idle_expires_at', ARGV[6], 'absolute_expires_at', ARGV[7],
      'user_agent', 'bench', 'ip', '127.0.0.1')
    redis.call('PEXPIREAT', key, ARGV[8])
    redis.call('ZADD', index, ARGV[5], hex)
    redis.call('HSET', handles, 'h:' .. handle, hex, 'd:' .. hex, handle)
  end
  redis.call('PEXPIREAT', index, ARGV[9])
  redis.call('PEXPIREAT', handles, ARGV[9])
end
"""

_LEFT_REDIS = """
local prefix = ARGV[1]
local first, users, left = tonumber(ARGV[2]), tonumber(ARGV[3]), 0
for u = first, first + users - 1 do
  left = left + redis.call('ZCARD', prefix .. '{u:filler-' .. u .. '}:sessions')
end
return left
"""

_EXPIRE_REDIS = """
local prefix = ARGV[1]
local first, users, per = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
for u = first, first + users - 1 do
  for s = 1, per do
    local n = u * per + s
    local hex = redis.sha1hex('s' .. n) .. string.sub(redis.sha1hex('t' .. n), 1, 24)
    redis.call('PEXPIRE', prefix .. 'session:' .. hex, 1)
  end
end
"""


@dataclass
class CheckCost:
    backend: str
    small: int
    large: int
    small_us: float  # median µs per session check
    large_us: float  # small_us times the median per-round ratio large / small
    seed_s: float  # seconds to bulk-write the large store

    @property
    def ratio(self) -> float:
        return self.large_us / self.small_us


@dataclass
class SweepCost:
    """One sweep under load. p99s are medians of the p99s of `SLICE_S` slices: the quiet
    ones (before the sweep and after it, so that a machine drifting one way over the run
    does not decide the ratio) against the sweep's own."""

    backend: str
    run: int  # 1, 2, ...: the sweep again, on filler expired anew
    expired: int
    removed: int  # what the sweep removed; counted in the store when it was stopped
    sweep_s: float
    p99_quiet_ms: float
    p99_during_ms: float
    rps_quiet: float
    rps_during: float
    errors: int
    finished: bool  # False: stopped at the time limit, still sweeping
    quiet_slices: int = 0
    during_slices: int = 0

    @property
    def ratio(self) -> float:
        return self.p99_during_ms / self.p99_quiet_ms

    @property
    def per_s(self) -> float:
        """Sessions removed per second of the sweep's wall time (paced: rests included)."""
        return self.removed / self.sweep_s if self.sweep_s else 0.0


# --- the stores ------------------------------------------------------------------------


class Backend:
    """One store, filled in bulk and opened through authward's own classes."""

    def __init__(self, name: str, url: str, workdir: Path) -> None:
        self.name, self.url, self.workdir = name, url, workdir
        self.seeded = 0  # filler users written so far
        self.now = datetime.now(UTC)
        self._engine: Any = None
        self._client: Any = None

    @property
    def database_url(self) -> str:
        if self.name == "Redis":
            return f"sqlite:///{self.workdir}/scale-redis-users.db"
        return self.url

    async def open(self, pacing: Pacing = DEFAULT_PACING) -> SessionStore:
        if self.name == "Redis":
            from authward.sessions.redis import RedisSessionStore
            from authward.storage.redis import create_client

            self._client = create_client(self.url, socket_timeout=30)
            return RedisSessionStore(self._client, keys=KeyNames(PREFIX), pacing=pacing)
        from authward.sessions.sql import SqlSessionStore
        from authward.storage.migrate import upgrade
        from authward.storage.sql import create_engine

        self._engine = create_engine(self.url)
        await upgrade(self._engine)
        return SqlSessionStore(self._engine, pacing=pacing)

    async def close(self) -> None:
        if self._engine is not None:
            await self._engine.dispose()
        if self._client is not None:
            await self._client.aclose()

    async def seed(self, sessions: int) -> None:
        """Write filler sessions until `sessions` are in (10 per user, users numbered on)."""
        users = sessions // PER_USER - self.seeded
        if users <= 0:
            return
        first, self.seeded = self.seeded, self.seeded + users
        if self.name == "Redis":
            await self._seed_redis(first, users)
        elif self.name == "SQLite":
            await asyncio.to_thread(self._seed_sqlite, first, users)
        else:
            await self._seed_postgres(first, users)

    def _rows(self, first: int, users: int) -> list[tuple[Any, ...]]:
        idle, absolute = self.now + FILLER_IDLE, self.now + timedelta(hours=12)
        return [
            (
                hashlib.sha256(f"filler-{n}".encode()).digest(),
                f"f{n:015d}",
                f"filler-{n // PER_USER}",
                self.now,
                self.now,
                idle,
                absolute,
                "bench",
                "127.0.0.1",
            )
            for n in range(first * PER_USER, (first + users) * PER_USER)
        ]

    def _seed_sqlite(self, first: int, users: int) -> None:
        path = self.url.removeprefix("sqlite:///")
        fmt = "%Y-%m-%d %H:%M:%S.%f"  # how SQLAlchemy stores a DateTime in SQLite
        connection = sqlite3.connect(path, timeout=60)
        try:
            # Setup, not measurement: no fsync per batch, a cache the indexes fit in.
            connection.execute("PRAGMA synchronous=OFF")
            connection.execute("PRAGMA cache_size=-262144")
            for start in range(first, first + users, 10_000):
                chunk = self._rows(start, min(10_000, first + users - start))
                rows = [
                    (*r[:3], *(d.replace(tzinfo=None).strftime(fmt) for d in r[3:7]), *r[7:])
                    for r in chunk
                ]
                with connection:
                    connection.executemany(SQLITE_INSERT, rows)
        finally:
            connection.close()

    async def _seed_postgres(self, first: int, users: int) -> None:
        import asyncpg

        connection = await asyncpg.connect(self.url)
        try:
            for start in range(first, first + users, 10_000):
                await connection.copy_records_to_table(
                    "authward_sessions",
                    records=self._rows(start, min(10_000, first + users - start)),
                    columns=list(FILLER_COLUMNS),
                )
        finally:
            await connection.close()

    async def _seed_redis(self, first: int, users: int) -> None:
        created = micros(self.now)
        idle, absolute = micros(self.now + FILLER_IDLE), micros(self.now + timedelta(hours=12))
        seed = self._client.register_script(_SEED_REDIS)
        for start in range(first, first + users, 2_000):
            count = min(2_000, first + users - start)
            await seed(
                keys=[],
                args=[
                    PREFIX,
                    start,
                    count,
                    PER_USER,
                    created,
                    idle,
                    absolute,
                    millis_ceil(idle),
                    millis_ceil(absolute),
                ],  # fmt: skip
            )

    async def reseed_redis(self) -> None:
        """Write the whole filler again (a sweep emptied its indexes), live from now."""
        self.now = datetime.now(UTC)
        await self._seed_redis(0, self.seeded)

    async def left(self, probes: int) -> int:
        """Expired sessions the sweep has yet to remove: rows past the filler's deadlines
        (SQL), index entries of the vanished filler (Redis)."""
        if self.name != "Redis":
            store = await self.open()
            try:
                return await store.count() - probes
            finally:
                await self.close()
        await self.open()
        try:
            script, left = self._client.register_script(_LEFT_REDIS), 0
            for start in range(0, self.seeded, 2_000):
                count = min(2_000, self.seeded - start)
                left += int(await script(keys=[], args=[PREFIX, start, count]))
            return left
        finally:
            await self.close()

    async def expire_redis_filler(self) -> None:
        """Make Redis drop the filler by itself (as its TTLs would), and wait until it has."""
        expire = self._client.register_script(_EXPIRE_REDIS)
        for start in range(0, self.seeded, 2_000):
            await expire(keys=[], args=[PREFIX, start, min(2_000, self.seeded - start), PER_USER])
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            left = 0
            async for _ in self._client.scan_iter(match=PREFIX + "session:*", count=10_000):
                left += 1
                if left > 1_000:
                    break
            if left <= 1_000:
                return
            await asyncio.sleep(1)


async def add_probes(store: SessionStore, count: int) -> list[str]:
    """Sessions with known ids, live for a day and "seen" in an hour: no touch is due."""
    now = datetime.now(UTC)
    ids = []
    for _ in range(count):
        session_id = crypto.new_token()
        await store.add(
            Session(
                id_digest=crypto.digest(session_id),
                handle=crypto.new_handle(),
                user_id="probe-user",
                created_at=now,
                last_seen_at=now + timedelta(hours=1),
                idle_expires_at=now + timedelta(hours=11),
                absolute_expires_at=now + timedelta(hours=12),
                device=Device("bench", "127.0.0.1"),
            )
        )
        ids.append(session_id)
    return ids


async def check_us(service: SessionService, probes: list[str], passes: int = 2) -> float:
    samples = []
    for _ in range(passes):
        order = random.sample(probes, len(probes))
        for session_id in order:
            began = time.perf_counter()
            await service.resume(session_id)
            samples.append((time.perf_counter() - began) * 1e6)
    return statistics.median(samples)


# --- load while the sweep runs ---------------------------------------------------------


class Recorder:
    """A closed loop of keep-alive GETs in a thread, every latency kept with its time."""

    def __init__(
        self, url: str, headers: dict[str, str], connections: int, cpu: int | None = None
    ) -> None:
        self.url, self.headers, self.connections, self.cpu = url, headers, connections, cpu
        self.samples: list[tuple[float, float, bool]] = []  # (when, seconds, ok)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    def __enter__(self) -> Recorder:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def slices(self, start: float, end: float, width: float) -> list[float]:
        """p99 (ms) of every whole `width`-second slice of [start, end)."""
        count = int((end - start) // width)
        return [self.window(start + i * width, start + (i + 1) * width)[0] for i in range(count)]

    def window(self, start: float, end: float) -> tuple[float, float, int]:
        """p99 (ms), requests per second and errors of the requests that began in it."""
        inside = [(s, ok) for t, s, ok in self.samples if start <= t < end]
        if not inside:
            return float("nan"), 0.0, 0
        p99 = percentile_99(sorted(s for s, _ in inside)) * 1e3
        return p99, len(inside) / (end - start), sum(not ok for _, ok in inside)

    async def _run(self) -> None:
        if self.cpu is not None and hasattr(os, "sched_setaffinity"):
            os.sched_setaffinity(0, {self.cpu})  # this thread only (Linux)
        host, port, request = request_bytes(self.url, self.headers)
        await asyncio.gather(
            *(self._connection(host, port, request) for _ in range(self.connections))
        )

    async def _connection(self, host: str, port: int, request: bytes) -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while not self._stop.is_set():
                began = time.monotonic()
                ok = await exchange(reader, writer, request)
                self.samples.append((began, time.monotonic() - began, ok))
        finally:
            writer.close()


def sweep_in_process(backend: Backend, at: datetime) -> subprocess.Popen[str]:
    """Start the store's sweep in a child process (as `authward sweep` would); it says
    "ready" once its imports are done and its store is open, and sweeps on "go"."""
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, __file__, "sweep", backend.name, backend.url, at.isoformat()],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).parent,
    )
    assert process.stdout is not None
    if process.stdout.readline().strip() != "ready":
        raise RuntimeError("the sweep process did not start")
    return process


def _sweep(process: subprocess.Popen[str], limit_s: float) -> tuple[str, bool]:
    """Say "go", and wait for the result line (not for the process to wind down)."""
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write("go\n")
    process.stdin.flush()
    ready, _, _ = select.select([process.stdout], [], [], limit_s)
    output = process.stdout.readline() if ready else ""
    if not output:
        process.kill()
    process.communicate()
    return output, bool(output)


async def _sweep_main(name: str, url: str, at: str) -> None:
    from authward.cli.sweep import SWEEP_NICENESS
    from authward.settings import load_settings

    os.nice(SWEEP_NICENESS)  # as `authward sweep` does
    backend = Backend(name, url, Path.cwd())
    store = await backend.open(load_settings().sweep_pacing)
    print("ready", flush=True)
    sys.stdin.readline()
    began = time.perf_counter()
    removed = await store.sweep(datetime.fromisoformat(at))
    print(json.dumps({"removed": removed, "seconds": time.perf_counter() - began}), flush=True)
    await backend.close()


# --- the whole target ------------------------------------------------------------------


def _service(store: SessionStore) -> SessionService:
    policy = SessionPolicy(timedelta(minutes=30), timedelta(hours=12), 10)
    return SessionService(store, policy, SystemClock(), csrf_key=b"\0" * 32)


def run_backend(
    name: str,
    urls: tuple[str, str],
    workdir: Path,
    *,
    small: int,
    large: int,
    probes: int,
    serve: Callable[[Backend, str], Any],
    load_cpu: int | None = None,
    rounds: int = 6,
    sweep_runs: int = 1,
    sweep_limit_s: float = 300.0,
    tick: Callable[[], None] = lambda: None,
) -> tuple[CheckCost, list[SweepCost]]:
    """Both measurements; `urls` are two stores of one kind (one filled to `small`, one to
    `large`, checked in alternation: a ratio is the median of the per-round ratios), and
    `serve(backend, probe_id)` is a context manager that runs the library app on the large
    one and yields the URL of its session-protected route with the cookie header."""
    few, backend = Backend(name, urls[0], workdir), Backend(name, urls[1], workdir)

    async def checks() -> tuple[CheckCost, list[str]]:
        stores = [await few.open(), await backend.open()]
        try:
            few_ids = await add_probes(stores[0], probes)
            ids = await add_probes(stores[1], probes)
            await few.seed(small - probes)
            began = time.perf_counter()
            await backend.seed(large - probes)
            seed_s = time.perf_counter() - began
            tick()
            pairs = [(_service(stores[0]), few_ids), (_service(stores[1]), ids)]
            samples: list[list[float]] = [[], []]
            for round_no in range(rounds):
                for which in (0, 1) if round_no % 2 else (1, 0):
                    service, probe_ids = pairs[which]
                    samples[which].append(await check_us(service, probe_ids, passes=1))
            tick()
            ratio = statistics.median(b / a for a, b in zip(*samples, strict=True))
            small_us = statistics.median(samples[0])
            return CheckCost(name, small, large, small_us, small_us * ratio, seed_s), ids
        finally:
            await few.close()
            await backend.close()

    cost, ids = asyncio.run(checks())
    tick()
    sweeps = []
    with serve(backend, ids[0]) as (url_, headers):
        # Only Redis is swept more than once: its filler is written again in seconds.
        for run in range(1, (sweep_runs if name == "Redis" else 1) + 1):
            if name == "Redis":
                asyncio.run(_expire_redis(backend, again=run > 1))
                at = datetime.now(UTC)
            else:
                at = backend.now + SWEEP_AHEAD
            sweeps.append(
                measure_sweep(
                    backend,
                    run,
                    at,
                    (url_, headers),
                    load_cpu,
                    sweep_limit_s,
                    (large - probes, probes),
                )
            )
            tick()
    return cost, sweeps


async def _expire_redis(backend: Backend, *, again: bool) -> None:
    await backend.open()
    try:
        if again:
            await backend.reseed_redis()
        await backend.expire_redis_filler()
    finally:
        await backend.close()


def measure_sweep(
    backend: Backend,
    run: int,
    at: datetime,
    target: tuple[str, dict[str, str]],
    load_cpu: int | None,
    limit_s: float,
    counts: tuple[int, int],
) -> SweepCost:
    """p99 in `SLICE_S` slices: quiet before the sweep, while it runs (up to `limit_s`),
    quiet after it; and what it removed (counted in the store when it was stopped)."""
    (expired, probes), process = counts, sweep_in_process(backend, at)
    with Recorder(*target, connections=4, cpu=load_cpu) as recorder:
        time.sleep(1)  # connections up, caches warm
        before = time.monotonic()
        time.sleep(QUIET_S)
        start = time.monotonic()
        output, finished = _sweep(process, limit_s)
        end = time.monotonic()
        time.sleep(QUIET_S)
        after = time.monotonic()
    result = json.loads(output.strip().splitlines()[-1]) if finished else {}
    if finished:
        removed = int(result["removed"])
    else:
        removed = expired - asyncio.run(backend.left(probes))
    quiet = [
        p
        for p in recorder.slices(before, start, SLICE_S) + recorder.slices(end, after, SLICE_S)
        if p == p
    ]
    during = [p for p in recorder.slices(start, end, SLICE_S) if p == p]
    whole_during = recorder.window(start, end)
    rps_quiet = (recorder.window(before, start)[1] + recorder.window(end, after)[1]) / 2
    return SweepCost(
        backend=backend.name,
        run=run,
        expired=expired,
        removed=removed,
        sweep_s=float(result.get("seconds", end - start)),
        p99_quiet_ms=statistics.median(quiet),
        p99_during_ms=statistics.median(during) if during else whole_during[0],
        rps_quiet=rps_quiet,
        rps_during=whole_during[1],
        errors=whole_during[2],
        finished=finished,
        quiet_slices=len(quiet),
        during_slices=len(during),
    )


if __name__ == "__main__" and len(sys.argv) == 5 and sys.argv[1] == "sweep":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    asyncio.run(_sweep_main(sys.argv[2], sys.argv[3], sys.argv[4]))
