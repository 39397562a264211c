"""Target 5 beyond one process: workers, nodes, and what each request costs its stores.

1. **Workers.** ``authward serve --workers 1`` and ``--workers 2`` on one SQLite file
   each (both servers up, idle in turn), ``GET /auth/me`` by bearer token and by session
   cookie, the servers and routes taking turns round by round; wrk (one thread) and the
   servers are not pinned. The second worker's share is the median per-round
   ``rps(2 workers) / rps(1 worker) - 1`` (target: >= 0.85).
2. **Nodes.** Three ``authward serve`` nodes (one worker each) over one PostgreSQL
   database and one Redis: node 1 alone, then all three at once (a wrk per node), per
   round. Each node's share is its requests per second over the three's mean.
3. **Unit costs.** For SQLite, PostgreSQL, and PostgreSQL with Redis, one node (session
   cache off, so every session check reads its store) serves a window of session
   checks, then sequential token logins, then sequential refreshes. Counters are read
   before and after each window, and an idle window of the same length is subtracted
   (the revocation poll runs meanwhile; PostgreSQL's counts are read once its backends
   have reported them): Redis ``INFO commandstats`` (commands) and
   ``INFO stats`` (bytes in and out), PostgreSQL ``pg_stat_database`` of the run's
   database (transactions, rows read and written), the server's ``/proc/<pid>/io``
   (write calls and bytes written, SQLite's file I/O among them).
4. **Footprint.** Sessions written through each store's own ``add``: Redis
   ``used_memory``, ``pg_total_relation_size`` of the sessions table, SQLite's file
   size, each per session.

`sizing_table` turns ``results["sizing"]`` (3 and 4) into docs/deployment.md's table.

    .venv-bench/bin/python benchmarks/scaleout.py --quick
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

EMAIL = "sizing@bench.example.com"
PASSWORD = "scale-out-password-1"
# Store operations do not depend on argon2's cost: the unit-cost windows hash cheaply.
CHEAP_ARGON2 = {
    "AUTHWARD_ARGON2_TIME_COST": "1",
    "AUTHWARD_ARGON2_MEMORY_KIB": "8",
    "AUTHWARD_ARGON2_PARALLELISM": "1",
}
THROTTLES = {  # one account from one address, again and again
    "AUTHWARD_LOGIN_MAX_FAILURES": "10000",
    "AUTHWARD_LOGIN_ACCOUNT_MAX_FAILURES": "100000",
    "AUTHWARD_LOGIN_ADDRESS_MAX_FAILURES": "1000000",
    "AUTHWARD_REFRESH_MAX_FAILURES": "100000",
}


# --- servers ----------------------------------------------------------------------------


@contextlib.contextmanager
def authward_serve(
    env: dict[str, str], workdir: Path, workers: int = 1
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`authward serve --workers N` on a free port until the block ends."""
    from loads import free_port

    port = free_port()
    log = (workdir / f"serve-{port}.log").open("wb")
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "authward", "serve", "--port", str(port)]
        + ["--workers", str(workers), "--log-level", "warning"],
        cwd=workdir,
        env={**os.environ, **env},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while not _up(url):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((workdir / f"serve-{port}.log").read_text()[-2000:])
            time.sleep(0.3)
        yield url, process
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _up(url: str) -> bool:
    with contextlib.suppress(OSError):
        with urllib.request.urlopen(url + "/healthz", timeout=2) as answer:  # noqa: S310
            return bool(answer.status == 200)
    return False


def node_env(workdir: Path, database_url: str | None, redis_url: str | None, **extra: str) -> dict:
    from throughput import authward_env

    env = authward_env(workdir, **THROTTLES, AUTHWARD_INSECURE_COOKIES="1", **extra)
    if database_url is not None:
        env["AUTHWARD_DATABASE_URL"] = database_url
    if redis_url is not None:
        env["AUTHWARD_REDIS_URL"] = redis_url
    return env


def credentials(env: dict[str, str]) -> dict[str, dict[str, str]]:
    from throughput import authward_credentials

    made = authward_credentials(env)
    return {"token": made.bearer, "session": made.cookie}


def _rps(url: str, headers: dict[str, str], seconds: float, connections: int) -> float:
    from loads import load

    run = load(url + "/auth/me", headers, seconds=seconds, connections=connections)
    if run.errors:
        raise RuntimeError(f"{run.errors} errors from {url}/auth/me")
    return run.rps


# --- 1. workers ------------------------------------------------------------------------


def workers(
    workdir: Path,
    *,
    rounds: int,
    seconds: float,
    connections: int,
    tick: Callable[[], None] = lambda: None,
) -> dict[str, Any]:
    """rps of `--workers 1` and `--workers 2`, per route, and the second worker's share."""
    runs: dict[str, dict[int, list[float]]] = {"token": {1: [], 2: []}, "session": {1: [], 2: []}}
    loads_seen = []
    with contextlib.ExitStack() as stack:
        servers = {}
        for count in (1, 2):
            here = workdir / f"workers-{count}"
            here.mkdir(exist_ok=True)
            env = node_env(here, None, None)
            headers = credentials(env)
            url, _ = stack.enter_context(authward_serve(env, here, workers=count))
            servers[count] = (url, headers)
            for route in runs:  # warm-up
                _rps(url, headers[route], 1, connections)
        for round_no in range(rounds):
            loads_seen.append(os.getloadavg()[0])
            for count in (1, 2) if round_no % 2 == 0 else (2, 1):
                url, headers = servers[count]
                for route in runs:
                    runs[route][count].append(_rps(url, headers[route], seconds, connections))
                    tick()
    return {
        "routes": {
            route: {
                "rps_1": statistics.median(by[1]),
                "rps_2": statistics.median(by[2]),
                "second_share": statistics.median(
                    b / a - 1 for a, b in zip(by[1], by[2], strict=True)
                ),
            }
            for route, by in runs.items()
        },
        "rounds": rounds,
        "seconds": seconds,
        "connections": connections,
        "load": loads_seen,
    }


# --- 2. three nodes --------------------------------------------------------------------


def nodes(
    workdir: Path,
    database_url: str,
    redis_url: str,
    *,
    rounds: int,
    seconds: float,
    connections: int,
    count: int = 3,
    tick: Callable[[], None] = lambda: None,
) -> dict[str, Any]:
    """One node alone, then `count` at once (a wrk each), by token and by session."""
    here = workdir / "nodes"
    here.mkdir(exist_ok=True)
    env = node_env(here, database_url, redis_url, AUTHWARD_SECRET_KEY=secrets.token_hex(32))
    headers = credentials(env)
    alone: dict[str, list[float]] = {"token": [], "session": []}
    together: dict[str, list[list[float]]] = {"token": [], "session": []}
    loads_seen = []
    with contextlib.ExitStack() as stack:
        urls = [stack.enter_context(authward_serve(env, here))[0] for _ in range(count)]
        for route in alone:
            for url in urls:
                _rps(url, headers[route], 1, connections)
        for _ in range(rounds):
            loads_seen.append(os.getloadavg()[0])
            for route in alone:
                alone[route].append(_rps(urls[0], headers[route], seconds, connections))
                each = [0.0] * count

                def drive(i: int, route: str = route, each: list[float] = each) -> None:
                    each[i] = _rps(urls[i], headers[route], seconds, connections)

                threads = [threading.Thread(target=drive, args=(i,)) for i in range(count)]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join()
                together[route].append(each)
                tick()
    result: dict[str, Any] = {"nodes": count, "rounds": rounds, "load": loads_seen, "routes": {}}
    for route in alone:
        totals = [sum(each) for each in together[route]]
        shares = [min(each) / (sum(each) / count) for each in together[route]]
        result["routes"][route] = {
            "alone_rps": statistics.median(alone[route]),
            "together_rps": statistics.median(totals),
            "per_node_rps": [statistics.median(n) for n in zip(*together[route], strict=True)],
            "total_over_alone": statistics.median(
                t / a for t, a in zip(totals, alone[route], strict=True)
            ),
            "min_share": statistics.median(shares),
        }
    return result


# --- 3. unit costs ---------------------------------------------------------------------


class Counters:
    """Counters of the stores a node uses, and of the node's own I/O."""

    def __init__(self, pid: int, database_url: str | None, redis_url: str | None) -> None:
        self.pid, self.database_url, self.redis_url = pid, database_url, redis_url

    def read(self) -> dict[str, float]:
        values: dict[str, float] = {}
        io = _proc_io(self.pid)
        values["node write calls"] = io.get("syscw", 0)
        values["node bytes written"] = io.get("write_bytes", 0)
        if self.redis_url is not None:
            import redis

            client = redis.Redis.from_url(self.redis_url)
            try:
                stats = client.info("commandstats")
                # INFO itself is counted: take our own calls out (2 per read).
                calls = sum(v["calls"] for k, v in stats.items() if k != "cmdstat_info")
                net = client.info("stats")
                values["Redis commands"] = calls
                values["Redis bytes"] = net["total_net_input_bytes"] + net["total_net_output_bytes"]
            finally:
                client.close()
        if self.database_url is not None and self.database_url.startswith("postgresql"):
            values.update(asyncio.run(_pg_stats(self.database_url)))
        return values


def _proc_io(pid: int) -> dict[str, int]:
    """/proc/<pid>/io of the process and its children (uvicorn's workers)."""
    from loads import children

    total: dict[str, int] = {}
    for each in (pid, *children(pid)):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{each}/io").read_text().splitlines():
                key, value = line.split(":")
                total[key] = total.get(key, 0) + int(value)
    return total


async def _pg_stats(url: str) -> dict[str, float]:
    import asyncpg

    connection = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
    try:
        await connection.execute("SELECT pg_stat_clear_snapshot()")
        row = await connection.fetchrow(
            "SELECT xact_commit + xact_rollback AS xacts, tup_returned, tup_fetched,"
            " tup_inserted + tup_updated + tup_deleted AS written"
            " FROM pg_stat_database WHERE datname = current_database()"
        )
    finally:
        await connection.close()
    assert row is not None
    # Our own reading is a transaction too (one per read); subtracted by the idle window.
    return {
        "PostgreSQL transactions": row["xacts"],
        "PostgreSQL rows read": row["tup_fetched"],
        "PostgreSQL rows written": row["written"],
    }


def _post(url: str, body: dict[str, str]) -> dict[str, Any]:
    request = urllib.request.Request(  # noqa: S310
        url, json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
        result: dict[str, Any] = json.loads(answer.read())
        return result


def _register(env: dict[str, str]) -> None:
    from throughput import settings_of

    from authward.runtime import build_runtime

    async def make() -> None:
        runtime = build_runtime(settings_of(env))
        await runtime.open(background=False)
        try:
            await runtime.accounts.register(EMAIL, PASSWORD)
        finally:
            await runtime.close()

    asyncio.run(make())


def unit_costs(
    name: str,
    env: dict[str, str],
    workdir: Path,
    *,
    checks_s: float,
    logins: int,
    refreshes: int,
) -> dict[str, Any]:
    """Counter deltas per session check, per token login and per refresh, each less an
    idle window as long as it; the counters' own reads settle in a 0.3 s pause."""
    from loads import load

    env = {**env, **CHEAP_ARGON2, "AUTHWARD_SESSION_CACHE_TTL": "0"}
    headers = credentials(env)
    _register(env)
    per: dict[str, dict[str, float]] = {}
    with authward_serve(env, workdir) as (url, process):
        counters = Counters(
            process.pid, env.get("AUTHWARD_DATABASE_URL"), env.get("AUTHWARD_REDIS_URL")
        )

        # PostgreSQL 15's backends report their counts when a transaction ends, but at
        # most once a second, and an idle one within 10 s: every reading waits that out.
        settle = 11.0 if "PostgreSQL" in name else 0.5

        def measured(work: Callable[[], int]) -> dict[str, float]:
            time.sleep(settle)
            before = counters.read()
            began = time.monotonic()
            done = work()
            took = time.monotonic() - began
            time.sleep(settle)
            after = counters.read()  # and the idle window, as long, starts here
            time.sleep(took + settle)
            idle = counters.read()
            return {
                key: ((after[key] - before[key]) - (idle[key] - after[key])) / done for key in after
            }

        load(url + "/auth/me", headers["session"], seconds=1, connections=4)  # warm-up
        per["session check"] = measured(
            lambda: (
                load(url + "/auth/me", headers["session"], seconds=checks_s, connections=4).requests
            )
        )
        login_body = {"email": EMAIL, "password": PASSWORD}
        refresh_token = [_post(url + "/auth/token", login_body)["refresh_token"]]

        def do_logins() -> int:
            for _ in range(logins):
                _post(url + "/auth/token", login_body)
            return logins

        def do_refreshes() -> int:
            for _ in range(refreshes):
                pair = _post(url + "/auth/token/refresh", {"refresh_token": refresh_token[0]})
                refresh_token[0] = pair["refresh_token"]
            return refreshes

        per["token login"] = measured(do_logins)
        per["refresh"] = measured(do_refreshes)
    return {"config": name, "per": per}


# --- 4. footprint ----------------------------------------------------------------------


# A browser's user agent, as sessions made by browsers carry one (stored as sent).
USER_AGENT = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)


def footprint(name: str, url: str, workdir: Path, sessions: int) -> dict[str, Any]:
    """Bytes per session in the store: `sessions` sessions (10 per user, each with a
    browser's user agent, an IPv4 address and its login's time and methods) written
    through the store's own ``add``, the store measured before and after (Redis
    used_memory; PostgreSQL the sessions table with its indexes, after a VACUUM; SQLite
    the file and its WAL)."""
    import scale

    from authward import crypto
    from authward.ids import Device
    from authward.sessions.models import Session

    backend = scale.Backend(name, url, workdir)
    now = backend.now

    def session(n: int) -> Session:
        return Session(
            id_digest=crypto.digest(crypto.new_token()),
            handle=crypto.new_handle(),
            user_id=f"{n // 10:08d}-0000-4000-8000-000000000000",  # a UUID's length
            created_at=now,
            last_seen_at=now,
            idle_expires_at=now + timedelta(hours=11),
            absolute_expires_at=now + timedelta(hours=12),
            device=Device(USER_AGENT, "203.0.113.7"),
            auth_time=now,
        )

    async def measure() -> float:
        store = await backend.open()
        try:
            before = await _size(name, url)
            for start in range(0, sessions, 100):
                await asyncio.gather(*(store.add(session(n)) for n in range(start, start + 100)))
            if name == "PostgreSQL":
                await _vacuum(url)
            return (await _size(name, url) - before) / sessions
        finally:
            await backend.close()

    return {"store": name, "sessions": sessions, "bytes_per_session": asyncio.run(measure())}


async def _size(name: str, url: str) -> float:
    if name == "Redis":
        import redis.asyncio

        client = redis.asyncio.Redis.from_url(url)
        try:
            return float((await client.info("memory"))["used_memory"])
        finally:
            await client.aclose()
    if name == "PostgreSQL":
        import asyncpg

        connection = await asyncpg.connect(url)
        try:
            size = await connection.fetchval("SELECT pg_total_relation_size('authward_sessions')")
            return float(size)
        finally:
            await connection.close()
    path = Path(url.removeprefix("sqlite:///"))
    return float(sum(p.stat().st_size for p in path.parent.glob(path.name + "*")))


async def _vacuum(url: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(url)
    try:
        await connection.execute("VACUUM ANALYZE authward_sessions")
    finally:
        await connection.close()


# --- the sizing table ------------------------------------------------------------------

# The deployment the issue asks about, and the mix of work assumed for it (stated in the
# table's notes): every request checks a session or a token; logins and refreshes are
# a share of the requests on top.
NODES, RATE = 10, 50_000
LOGIN_SHARE, REFRESH_SHARE = 0.002, 0.02


def sizing_table(sizing: dict[str, Any]) -> str:
    """docs/deployment.md's sizing table, in Markdown, from ``results["sizing"]``."""
    lines = [
        "| per operation | store | session check (cache off) | token login | refresh |",
        "|---|---|---:|---:|---:|",
    ]
    keys = [
        ("SQLite", "node write calls"),
        ("SQLite", "node bytes written"),
        ("PostgreSQL", "PostgreSQL transactions"),
        ("PostgreSQL", "PostgreSQL rows read"),
        ("PostgreSQL", "PostgreSQL rows written"),
        ("PostgreSQL + Redis", "Redis commands"),
        ("PostgreSQL + Redis", "Redis bytes"),
        ("PostgreSQL + Redis", "PostgreSQL transactions"),
        ("PostgreSQL + Redis", "PostgreSQL rows written"),
    ]
    costs = {row["config"]: row["per"] for row in sizing["unit_costs"]}
    for config, key in keys:
        if config not in costs:
            continue
        per = costs[config]
        cells = [
            _figure(per[op].get(key, float("nan")))
            for op in ("session check", "token login", "refresh")
        ]
        lines.append(f"| {key} | {config} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "| sessions held | store | per session | 1,000,000 | 10,000,000 |",
        "|---|---|---:|---:|---:|",
    ]
    for row in sizing["footprint"]:
        each = row["bytes_per_session"]
        what = "memory" if row["store"] == "Redis" else "disk"
        lines.append(
            f"| {what} | {row['store']} | {each:,.0f} B | {each * 1e6 / 2**20:,.0f} MiB "
            f"| {each * 1e7 / 2**30:,.1f} GiB |"
        )
    if "PostgreSQL + Redis" in costs:
        per = costs["PostgreSQL + Redis"]
        mix = {
            "session check": RATE,
            "token login": RATE * LOGIN_SHARE,
            "refresh": RATE * REFRESH_SHARE,
        }

        def need(key: str) -> float:
            return sum(per[op].get(key, 0.0) * rate for op, rate in mix.items())

        lines += [
            "",
            f"| {NODES} nodes at {RATE:,} req/s (PostgreSQL + Redis) | per second |",
            "|---|---:|",
            f"| Redis commands | {need('Redis commands'):,.0f} |",
            f"| Redis traffic | {need('Redis bytes') / 2**20:,.1f} MiB |",
            f"| PostgreSQL transactions | {need('PostgreSQL transactions'):,.0f} |",
            f"| PostgreSQL rows written | {need('PostgreSQL rows written'):,.0f} |",
            f"| requests per node | {RATE / NODES:,.0f} |",
        ]
    return "\n".join(lines)


def _figure(value: float) -> str:
    if value != value:  # NaN
        return "–"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.2f}"


# --- the whole stage -------------------------------------------------------------------


def run(
    workdir: Path,
    *,
    quick: bool,
    tick: Callable[[], None] = lambda: None,
) -> dict[str, Any]:
    """Everything above; ``{"scaleout": ..., "sizing": ...}`` for results.json."""
    import stores

    rounds, seconds = (1, 1.0) if quick else (5, 3.0)
    checks_s, logins, refreshes = (1.0, 10, 10) if quick else (3.0, 100, 100)
    filler = 2_000 if quick else 20_000
    out: dict[str, Any] = {"scaleout": {}, "sizing": {"unit_costs": [], "footprint": []}}
    out["scaleout"]["workers"] = workers(
        workdir, rounds=rounds, seconds=seconds, connections=32, tick=tick
    )
    with contextlib.ExitStack() as stack:
        postgres = stack.enter_context(stores.postgres_database())
        redis_url = stack.enter_context(stores.redis_server(workdir))
        if postgres is not None and redis_url is not None:
            out["scaleout"]["nodes"] = nodes(
                workdir, postgres, redis_url, rounds=rounds, seconds=seconds,
                connections=16, tick=tick,
            )  # fmt: skip
        for name, database, redis in (
            ("SQLite", None, None),
            ("PostgreSQL", "new", None),
            ("PostgreSQL + Redis", "new", redis_url),
        ):
            here = workdir / name.replace(" + ", "-")
            here.mkdir(exist_ok=True)
            if database == "new":
                database = stack.enter_context(stores.postgres_database())
                if database is None or (name.endswith("Redis") and redis is None):
                    continue
            env = node_env(here, database, redis)
            costs = unit_costs(
                name, env, here, checks_s=checks_s, logins=logins, refreshes=refreshes
            )
            out["sizing"]["unit_costs"].append(costs)
            tick()
        for name in ("SQLite", "PostgreSQL", "Redis"):
            if name == "SQLite":
                url: str | None = f"sqlite:///{workdir / 'footprint.db'}"
            elif name == "PostgreSQL":
                url = stack.enter_context(stores.postgres_database())
            else:
                url = stack.enter_context(stores.redis_server(workdir))
            if url is not None:
                out["sizing"]["footprint"].append(footprint(name, url, workdir, filler))
            tick()
    return out


def stage(quick: bool, results: dict[str, Any], progress: Any, work: Path) -> None:
    """`make bench`'s stage: ``results["scaleout"]`` and ``results["sizing"]``."""
    (work / "scaleout").mkdir(exist_ok=True)
    with progress.stage("workers, nodes and sizing (target 5)", 2 * 5 * 2 + 6) as tick:
        found = run(work / "scaleout", quick=quick, tick=tick)
    results.update(found)
    progress.log(sizing_table(found["sizing"]))


def main(argv: list[str] | None = None) -> int:
    import argparse
    import tempfile

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="authward-scaleout-") as tmp:
        result = run(Path(tmp), quick=args.quick)
    print(json.dumps(result["scaleout"], indent=1))
    print(sizing_table(result["sizing"]))
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
