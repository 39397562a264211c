"""How fast the revocation bus itself reaches the other processes: p50/p99, no HTTP.

One process publishes, as a worker does on a logout, a revocation or a disable (they all
go through `RevocationBus.publish`); `--receivers` other processes (3 by default) each run
an authward runtime built from the same settings, as `authward serve` builds it, and note
the instant their bus delivers each revocation. A sample is that instant minus the one
before `publish` was called, on the machine's monotonic clock (one clock for every process
on Linux): the bus's own propagation, with no polling client in between (compare
``benchmarks/propagation.py``, which measures whole requests).

Modes, each beside its baseline in the same run:

* ``workers``: a SQLite file, the push between the processes of one machine (Unix
  datagrams); ``workers-poll``: the same with ``AUTHWARD_REVOCATION_PUSH=0``;
* ``postgres``: PostgreSQL without Redis, LISTEN/NOTIFY; ``sql``: the same, polled;
* ``redis``: PostgreSQL and Redis, pub/sub (with ``--redis``).

Each round starts after a random pause of up to one poll interval, so that revocations
land anywhere in the receivers' poll cycles.

    .venv/bin/python benchmarks/fanout.py                       # workers, workers-poll
    .venv/bin/python benchmarks/fanout.py --mode postgres --mode sql --rounds 100
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import secrets
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Final

import asyncpg

from authward.revocation.list import Revocation
from authward.runtime import Runtime, build_runtime
from authward.settings import load_settings

SECRET = "fanout-bench-" + secrets.token_hex(24)
READY_WITHIN = 60.0
ARRIVE_WITHIN = 30.0  # seconds: the run is broken, not slow
MARK: Final = "fanout-"
returned: list[float] = []  # how long each publish took, to its return, this mode


@dataclass
class Receiver:
    process: asyncio.subprocess.Process
    arrivals: dict[str, float] = field(default_factory=dict)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def read(self) -> None:
        assert self.process.stdout is not None
        async for line in self.process.stdout:
            subject, _, at = line.decode().strip().partition(" ")
            self.arrivals[subject] = float(at)
            self.changed.set()

    async def heard(self, subject: str) -> float:
        async with asyncio.timeout(ARRIVE_WITHIN):
            while subject not in self.arrivals:
                self.changed.clear()
                await self.changed.wait()
        return self.arrivals.pop(subject)


# --- a receiving process --------------------------------------------------------------


async def receive() -> None:
    """Run a runtime as a server does; print each bench revocation's arrival."""
    runtime = build_runtime(load_settings())
    await runtime.open(migrate=False)

    def arrived(revocation: Revocation) -> None:
        if revocation.subject.startswith(MARK):
            sys.stdout.write(f"{revocation.subject} {time.monotonic()}\n")
            sys.stdout.flush()

    runtime.bus.subscribe(arrived)
    await until_live(runtime)
    sys.stdout.write("ready 0\n")
    sys.stdout.flush()
    await asyncio.to_thread(sys.stdin.read)  # until the publisher is done
    await runtime.close()


async def until_live(runtime: Runtime) -> None:
    """A push path that reconnects (LISTEN, SUBSCRIBE) says when it is up."""
    async with asyncio.timeout(READY_WITHIN):
        while True:
            if getattr(runtime.bus, "live", True):
                return
            await asyncio.sleep(0.01)


# --- the publisher ----------------------------------------------------------------------


async def run_mode(mode: str, args: argparse.Namespace) -> list[float]:
    with tempfile.TemporaryDirectory() as workdir:
        on_sqlite = mode.startswith("workers")
        database = (
            f"sqlite:///{workdir}/authward.db"
            if on_sqlite
            else await create_database(args.postgres)
        )
        env = {
            **os.environ,
            "AUTHWARD_DATABASE_URL": database,
            "AUTHWARD_SECRET_KEY": SECRET,
            "AUTHWARD_REVOCATION_POLL_INTERVAL": str(args.poll),
            "AUTHWARD_REVOCATION_PUSH": "0" if mode in {"workers-poll", "sql"} else "1",
        }
        if mode == "redis":
            env |= {
                "AUTHWARD_REDIS_URL": args.redis,
                "AUTHWARD_REDIS_PREFIX": f"{MARK}{secrets.token_hex(4)}:",
            }
        try:
            return await publish_rounds(env, Path(workdir), args)
        finally:
            if not on_sqlite:
                await drop_database(args.postgres, database)


async def publish_rounds(
    env: dict[str, str], workdir: Path, args: argparse.Namespace
) -> list[float]:
    os.environ.update(env)
    publisher = build_runtime(load_settings())
    await publisher.open()  # migrates, before any receiver opens the database
    receivers: list[Receiver] = []
    try:
        for _ in range(args.receivers):
            process = await asyncio.create_subprocess_exec(
                sys.executable, __file__, "--receive",
                cwd=workdir, env=env,
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            )  # fmt: skip
            receivers.append(Receiver(process))
        readers = [asyncio.create_task(r.read()) for r in receivers]
        await asyncio.gather(*(r.heard("ready") for r in receivers))
        samples: list[float] = []
        returned.clear()
        for index in range(args.rounds):
            await asyncio.sleep(random.uniform(0, args.poll))
            subject = f"{MARK}{index}-{secrets.token_hex(4)}"
            now = publisher.clock.now()
            sent = time.monotonic()
            await publisher.bus.publish(
                Revocation("family", subject, now, now + timedelta(minutes=5))
            )
            returned.append(time.monotonic() - sent)
            arrivals = await asyncio.gather(*(r.heard(subject) for r in receivers))
            samples += [arrival - sent for arrival in arrivals]
        for receiver in receivers:
            assert receiver.process.stdin is not None
            receiver.process.stdin.close()
        for receiver in receivers:
            await receiver.process.wait()
        for reader in readers:
            reader.cancel()
        return samples
    finally:
        for receiver in receivers:
            if receiver.process.returncode is None:
                receiver.process.kill()
        await publisher.close()


async def create_database(admin_url: str) -> str:
    name = f"authward_fanout_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(admin_url, timeout=5)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return f"{admin_url.rsplit('/', 1)[0]}/{name}"


async def drop_database(admin_url: str, url: str) -> None:
    admin = await asyncpg.connect(admin_url, timeout=5)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
    finally:
        await admin.close()


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def report(mode: str, samples: list[float]) -> None:
    ms = [v * 1000 for v in samples]
    own = [v * 1000 for v in returned]
    print(
        f"{mode:<13} n={len(ms):<5} p50={statistics.median(ms):8.2f} ms  "
        f"p90={percentile(ms, 0.90):8.2f} ms  p99={percentile(ms, 0.99):8.2f} ms  "
        f"max={max(ms):8.2f} ms   (publish itself: p50={statistics.median(own):.2f} ms, "
        f"p99={percentile(own, 0.99):.2f} ms)",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--receive", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument(
        "--mode", action="append", choices=["workers", "workers-poll", "postgres", "sql", "redis"]
    )
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--receivers", type=int, default=3)
    parser.add_argument("--poll", type=float, default=1.0, help="revocation poll interval, s")
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    if args.receive:
        asyncio.run(receive())
        return
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"{args.rounds} rounds, 1 publisher and {args.receivers} receiving processes; "
        f"samples per receiver, from the call of publish; {os.cpu_count()} CPUs, "
        f"load average {load}",
        flush=True,
    )
    for mode in args.mode or ["workers", "workers-poll"]:
        report(mode, asyncio.run(run_mode(mode, args)))


if __name__ == "__main__":
    main()
