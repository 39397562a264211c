"""How fast a revocation reaches the other nodes: p50/p99 across three `authward serve` nodes.

The script builds a deployment of its own: a private database on the PostgreSQL server,
a key prefix of its own on the Redis server, three nodes on free loopback ports. Each
round it gets an access token from one node, checks that the other two accept it,
revokes it on the first, and polls the other two (``GET /auth/me``, back to back) until
each refuses it. The figure is the time from the 204 of the revoke to the first 401 on a
node, one sample per node per round; a round-trip of the polling client is the
resolution. With ``--sessions``, the same for a logout (sessions cached on every node).
In every mode but redis each round starts after a random pause of up to one poll
interval, so that revocations land anywhere in the nodes' poll cycles.

Modes, each a deployment of its own measured the same way:

* ``redis``: PostgreSQL and Redis, the pub/sub bus (the default);
* ``postgres``: PostgreSQL without Redis: the revocation table, pushed by LISTEN/NOTIFY;
* ``sql``: the same with ``AUTHWARD_REVOCATION_PUSH=0``: the table polled
  ``AUTHWARD_REVOCATION_POLL_INTERVAL`` apart, the baseline of both others;
* ``workers``: three processes on one SQLite file, as the workers of one
  ``authward serve --workers 3`` (each on a port of its own, so each can be asked): the
  table, pushed by Unix datagrams between the processes;
* ``workers-poll``: the same with the push off.

Everything it made is removed at the end (the database dropped, its Redis keys deleted).

    .venv/bin/python benchmarks/propagation.py                  # redis, 200 rounds
    .venv/bin/python benchmarks/propagation.py --mode sql --mode postgres --mode redis --sessions
    .venv/bin/python benchmarks/propagation.py --mode workers --mode workers-poll --sessions
    .venv/bin/python benchmarks/propagation.py --rounds 50      # quicker

Needs PostgreSQL (``--postgres``, default postgresql://postgres@127.0.0.1:5432/postgres)
(but for the workers modes) and, for the redis mode, Redis (``--redis``, default redis://127.0.0.1:6379/0).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg
import httpx
import redis

from authward.cli.loadgen import free_port

PASSWORD = "correct horse battery"
SECRET = "propagation-bench-" + secrets.token_hex(24)
START_TIMEOUT = 60.0
GIVE_UP_AFTER = 30.0  # seconds without a refusal: the run is broken, not slow
ROUND_TRIPS: list[float] = []  # of the polling GETs: the resolution of every figure


@contextmanager
def nodes(env: dict[str, str], workdir: Path, count: int = 3) -> Iterator[list[str]]:
    """Start `count` nodes at once; yield their base URLs; stop them."""
    started: list[tuple[subprocess.Popen[bytes], str]] = []
    try:
        for index in range(count):
            port = free_port()
            log = (workdir / f"node-{index}.log").open("wb")
            process = subprocess.Popen(
                [sys.executable, "-m", "authward", "serve", "--port", str(port)]
                + ["--log-level", "warning"],
                cwd=workdir,
                env={**os.environ, **env},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            started.append((process, f"http://127.0.0.1:{port}"))
        for process, base in started:
            wait_until_healthy(process, base)
        yield [base for _, base in started]
    finally:
        for process, _ in started:
            process.terminate()
        for process, _ in started:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


def wait_until_healthy(process: subprocess.Popen[bytes], base: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"a node exited at start (see its log in {process.args})")
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise SystemExit(f"node {base} did not become healthy")


async def create_database(admin_url: str) -> str:
    name = f"authward_bench_{secrets.token_hex(4)}"
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


def delete_keys(url: str, prefix: str) -> None:
    client = redis.Redis.from_url(url, socket_timeout=5)
    try:
        for name in client.scan_iter(match=prefix + "*", count=1000):
            client.delete(name)
    finally:
        client.close()


async def refused_after(client: httpx.AsyncClient, headers: dict[str, str]) -> float:
    """Poll `/auth/me` until 401; return when it came, on the monotonic clock."""
    deadline = time.monotonic() + GIVE_UP_AFTER
    while time.monotonic() < deadline:
        sent = time.monotonic()
        response = await client.get("/auth/me", headers=headers)
        ROUND_TRIPS.append(time.monotonic() - sent)
        if response.status_code == 401:
            return time.monotonic()
        if response.status_code != 200:
            raise SystemExit(f"unexpected {response.status_code} while polling")
    raise SystemExit("a revocation never arrived")


async def token_round(
    clients: list[httpx.AsyncClient], account: dict[str, str], first: int
) -> list[float]:
    here, others = clients[first], clients[first + 1 :] + clients[:first]
    token = (await here.post("/auth/token", json=account)).json()["access_token"]
    bearer = {"Authorization": f"Bearer {token}"}
    for other in others:
        assert (await other.get("/auth/me", headers=bearer)).status_code == 200
    revoked = await here.post("/auth/token/revoke", headers=bearer)
    assert revoked.status_code == 204
    done = time.monotonic()
    arrivals = await asyncio.gather(*(refused_after(other, bearer) for other in others))
    return [arrival - done for arrival in arrivals]


async def session_round(
    clients: list[httpx.AsyncClient], account: dict[str, str], first: int
) -> list[float]:
    here, others = clients[first], clients[first + 1 :] + clients[:first]
    login = await here.post("/auth/session/login", json=account)
    here.cookies.clear()
    cookie = {"Cookie": f"authward_session={login.cookies['authward_session']}"}
    for other in others:  # every node now holds it in its cache
        assert (await other.get("/auth/me", headers=cookie)).status_code == 200
    csrf = {"X-CSRF-Token": login.json()["csrf_token"]}
    assert (await here.post("/auth/session/logout", headers={**cookie, **csrf})).status_code == 204
    done = time.monotonic()
    arrivals = await asyncio.gather(*(refused_after(other, cookie) for other in others))
    return [arrival - done for arrival in arrivals]


async def measure(
    bases: list[str], rounds: int, sessions: bool, jitter: float
) -> dict[str, list[float]]:
    clients = [httpx.AsyncClient(base_url=base, timeout=10) for base in bases]
    try:
        account = {"email": f"{secrets.token_hex(6)}@example.com", "password": PASSWORD}
        assert (await clients[0].post("/auth/register", json=account)).status_code == 201
        samples: dict[str, list[float]] = {"token revocation": []}
        if sessions:
            samples["logout (cached sessions)"] = []
        for index in range(rounds):
            first = index % len(clients)
            # Each round ends just after the others polled: without a random pause the
            # next revocation would always land at the same point of their poll cycle.
            await asyncio.sleep(random.uniform(0, jitter))
            samples["token revocation"] += await token_round(clients, account, first)
            if sessions:
                samples["logout (cached sessions)"] += await session_round(clients, account, first)
        return samples
    finally:
        for client in clients:
            await client.aclose()


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def report(mode: str, poll: float, samples: dict[str, list[float]]) -> None:
    for kind, values in samples.items():
        ms = [v * 1000 for v in values]
        print(
            f"{mode:<12} {kind:<26} n={len(ms):<5} p50={statistics.median(ms):7.1f} ms  "
            f"p90={percentile(ms, 0.90):7.1f} ms  p99={percentile(ms, 0.99):7.1f} ms  "
            f"max={max(ms):7.1f} ms"
        )
    resolution = statistics.median(ROUND_TRIPS) * 1000
    print(
        f"{mode:<12} (one polling GET takes {resolution:.1f} ms at the median; "
        f"AUTHWARD_REVOCATION_POLL_INTERVAL={poll:g} s)"
    )
    ROUND_TRIPS.clear()


# One line of `report`, read back by `parse` (run.py keeps the figures in results.json).
LINE = re.compile(
    r"^(?P<mode>\S+)\s+(?P<what>\S.*?)\s+n=(?P<n>\d+)\s+p50=\s*(?P<p50_ms>[\d.]+) ms\s+"
    r"p90=\s*(?P<p90_ms>[\d.]+) ms\s+p99=\s*(?P<p99_ms>[\d.]+) ms\s+max=\s*(?P<max_ms>[\d.]+) ms$"
)


def parse(output: str) -> list[dict[str, str | int | float]]:
    """The figures of `report`'s lines in `output`, one dict per mode and kind."""
    rows: list[dict[str, str | int | float]] = []
    for line in output.splitlines():
        if found := LINE.match(line.strip()):
            row = found.groupdict()
            rows.append(
                {
                    "mode": row.pop("mode"),
                    "what": row.pop("what"),
                    "n": int(row.pop("n")),
                    **{key: float(value) for key, value in row.items()},
                }
            )
    return rows


MODES = ["redis", "postgres", "sql", "workers", "workers-poll"]
POLLED = {"sql", "workers-poll"}
ON_SQLITE = {"workers", "workers-poll"}


async def run_mode(mode: str, args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as workdir:
        sqlite = f"sqlite:///{workdir}/authward.db"
        database = sqlite if mode in ON_SQLITE else await create_database(args.postgres)
        try:
            await run_nodes(mode, args, database, Path(workdir))
        finally:
            if mode not in ON_SQLITE:
                await drop_database(args.postgres, database)


async def run_nodes(mode: str, args: argparse.Namespace, database: str, workdir: Path) -> None:
    prefix = f"authward-bench-{secrets.token_hex(6)}:"
    env = {
        "AUTHWARD_DATABASE_URL": database,
        "AUTHWARD_REVOCATION_PUSH": "0" if mode in POLLED else "1",
        "AUTHWARD_SECRET_KEY": SECRET,
        "AUTHWARD_INSECURE_COOKIES": "1",
        "AUTHWARD_REVOCATION_POLL_INTERVAL": str(args.poll),
        "AUTHWARD_SESSION_CACHE_TTL": "30" if args.sessions else "0",
        "AUTHWARD_ARGON2_TIME_COST": "1",
        "AUTHWARD_ARGON2_MEMORY_KIB": "8",
        "AUTHWARD_ARGON2_PARALLELISM": "1",
        "AUTHWARD_LOGIN_MAX_FAILURES": "10000",
        "AUTHWARD_REGISTER_MAX_ATTEMPTS": "100000",
    }
    if mode == "redis":
        env |= {"AUTHWARD_REDIS_URL": args.redis, "AUTHWARD_REDIS_PREFIX": prefix}
    try:
        if mode in ON_SQLITE:
            # One after the other, as `--workers N` starts its workers after one migration.
            with nodes(env, workdir, count=1):
                pass
        with nodes(env, workdir) as bases:
            jitter = 0.0 if mode == "redis" else args.poll
            samples = await measure(bases, args.rounds, args.sessions, jitter)
        report(mode, args.poll, samples)
    finally:
        if mode == "redis":
            delete_keys(args.redis, prefix)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", action="append", choices=MODES)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--poll", type=float, default=1.0, help="revocation poll interval, s")
    parser.add_argument("--sessions", action="store_true", help="also time logouts")
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"{args.rounds} rounds, 3 nodes; samples are per receiving node, from the 204; "
        f"{os.cpu_count()} CPUs, load average {load}"
    )
    for mode in args.mode or ["redis"]:
        asyncio.run(run_mode(mode, args))


if __name__ == "__main__":
    main()
