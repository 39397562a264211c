"""What counting a login before its work costs, next to the work it guards.

    .venv/bin/python benchmarks/throttle.py                 # SQLite, PostgreSQL, Redis
    .venv/bin/python benchmarks/throttle.py --rounds 5 --stores sqlite

Every login reserves a place in three counts before its password is checked (one atomic
step: a transaction on SQL, a Lua script per key on Redis) and, when it succeeds, gives
it back. Before issue 14 a login only read the counts. This measures, per store:

* **success**: ``attempt`` then ``succeeded`` (a login with the right password);
* **failure**: ``attempt`` alone (a wrong password keeps its entry);
* and, as the baseline measured in the same run, one argon2id verification at authward's
  default parameters (RFC 9106 low-memory: t=3, 64 MiB, p=4), which every login pays.

Each figure is the median over rounds of a batch's mean; the ratio says what share of a
login's own cost the throttle adds. PostgreSQL and Redis are the machine's own
(a database made for the run and dropped after; ``AUTHWARD_TEST_POSTGRES`` and
``AUTHWARD_TEST_REDIS`` override them); a store that cannot be reached is left out with a
line saying so.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import timedelta

from authward.clock import SystemClock
from authward.passwords import PasswordHasher
from authward.storage.migrate import upgrade
from authward.storage.redis import KeyNames, create_client
from authward.storage.sql import create_engine
from authward.throttle.log import FailureLog
from authward.throttle.policy import ThrottlePolicy
from authward.throttle.throttles import LoginThrottle

POSTGRES_ADMIN = os.environ.get(
    "AUTHWARD_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REDIS = os.environ.get("AUTHWARD_TEST_REDIS", "redis://127.0.0.1:6379/0")
WINDOW = timedelta(minutes=15)
# Ceilings no run reaches: what is measured is the counting, not a refusal.
POLICY = ThrottlePolicy(
    max_failures=10**6, account_max_failures=10**6, window=WINDOW, address_max_failures=10**6
)


async def mean_us(action: Callable[[], Awaitable[object]], batch: int) -> float:
    started = time.perf_counter()
    for _ in range(batch):
        await action()
    return (time.perf_counter() - started) / batch * 1e6


@asynccontextmanager
async def failure_log(store: str) -> AsyncIterator[FailureLog]:
    if store == "redis":
        from authward.throttle.redis import RedisFailureLog

        client = create_client(REDIS)
        keys = KeyNames(f"authward-bench-{secrets.token_hex(4)}:")
        try:
            yield RedisFailureLog(client, window=WINDOW, keys=keys)
        finally:
            async for name in client.scan_iter(match=keys.pattern("*")):
                await client.delete(name)
            await client.aclose()
        return
    from authward.throttle.sql import SqlFailureLog

    async with database_url(store) as url:
        engine = create_engine(url)
        try:
            await upgrade(engine)
            yield SqlFailureLog(engine)
        finally:
            await engine.dispose()


@asynccontextmanager
async def database_url(store: str) -> AsyncIterator[str]:
    """A SQLite file of the run's own, or a PostgreSQL database made for it and dropped."""
    if store == "sqlite":
        with tempfile.TemporaryDirectory(prefix="authward-throttle-") as workdir:
            yield f"sqlite:///{workdir}/bench.db"
        return
    import asyncpg

    name = f"authward_bench_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(POSTGRES_ADMIN, timeout=5)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{POSTGRES_ADMIN.rsplit('/', 1)[0]}/{name}"
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def measure_store(store: str, rounds: int, batch: int) -> dict[str, float]:
    async with failure_log(store) as log:
        throttle = LoginThrottle(log, POLICY, SystemClock())
        counter = iter(range(10**9))

        async def success() -> None:
            attempt = await throttle.attempt("ada@example.com", "203.0.113.7")
            await attempt.succeeded()

        async def failure() -> None:
            # A new account each time, so no count grows over the run.
            await throttle.attempt(f"user{next(counter)}@example.com", "203.0.113.7")

        figures: dict[str, list[float]] = {"success": [], "failure": []}
        for _ in range(rounds):
            figures["success"].append(await mean_us(success, batch))
            figures["failure"].append(await mean_us(failure, batch))
    return {name: statistics.median(values) for name, values in figures.items()}


async def argon2_us(rounds: int) -> float:
    hasher = PasswordHasher()  # authward's defaults
    stored = await hasher.hash("correct horse battery staple")
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        await hasher.verify(stored, "correct horse battery staple")
        times.append((time.perf_counter() - started) * 1e6)
    return statistics.median(times)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--stores", default="sqlite,postgres,redis")
    args = parser.parse_args()
    baseline = await argon2_us(args.rounds)
    print(f"baseline: one argon2id verification (t=3, 64 MiB, p=4): {baseline / 1000:.1f} ms")
    print(f"{'store':10} {'success µs':>11} {'failure µs':>11} {'success / argon2':>17}")
    for store in args.stores.split(","):
        try:
            figures = await measure_store(store, args.rounds, args.batch)
        except Exception as exc:  # a store that is not there is reported, not fatal
            print(f"{store:10} not measured: {type(exc).__name__}: {exc}")
            continue
        ratio = figures["success"] / baseline
        print(f"{store:10} {figures['success']:11.0f} {figures['failure']:11.0f} {ratio:17.3f}")


if __name__ == "__main__":
    asyncio.run(main())
