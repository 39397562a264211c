"""Target 6: logins per second at the hashing floor.

A password login is one argon2id verification plus everything around it (the throttle
count, the user's row, the session or the token family, the answer). The floor is what
the hashing alone allows: argon2id verifications per second with the server's own
parameters (``AUTHWARD_ARGON2_*``, RFC 9106 by default) and its concurrency
(``AUTHWARD_ARGON2_MAX_CONCURRENT`` threads, each verifying in a loop), in a process of
its own at normal priority. The target is logins per second >= 0.90x of that.

Round by round, on an idle server (one uvicorn worker, not pinned, SQLite), the floor
and each login route take turns for ``seconds`` each; a ratio is the median of the
per-round ratios. wrk posts the right password over ``connections`` keep-alive
connections (as the storm stage: a login spends time before and after its hash, so
more clients than hashing threads keep a hash always waiting). After each run the
server finishes the logins still in flight (one per connection) before the next case
starts; their CPU counts with the run's. Beside
the rates: CPU seconds per hash (the floor's process) and per login (the server's
process, all threads): the difference is what a login costs outside argon2.

    .venv-bench/bin/python benchmarks/login_floor.py            # 5 rounds of 8 s
    .venv-bench/bin/python benchmarks/login_floor.py --quick    # a smoke test
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

EMAIL = "login@bench.example.com"
PASSWORD = "hashing-floor-password-1"
# The per-(account, address) and per-address failure counts hold a slot while a login's
# password is checked (throttles count before the work): every connection here is the
# same account from 127.0.0.1, so the ceilings are raised past the load itself.
THROTTLES = {
    "AUTHWARD_LOGIN_MAX_FAILURES": "10000",
    "AUTHWARD_LOGIN_ACCOUNT_MAX_FAILURES": "100000",
    "AUTHWARD_LOGIN_ADDRESS_MAX_FAILURES": "1000000",
}
ROUTES = {"token": "/auth/token", "session": "/auth/session/login"}


@dataclass
class Rate:
    per_s: float
    cpu_ms: float  # CPU time per operation, every thread of the process
    errors: int = 0


@dataclass
class FloorResult:
    params: str
    concurrency: int
    connections: int
    seconds: float
    floor: list[Rate] = field(default_factory=list)
    # The same, at the niceness of the server's hashing threads: on a machine other
    # processes keep busy, that priority (kept so that requests without a password stay
    # fast during a login storm) gets the hashes a smaller share than the floor's.
    floor_nice: list[Rate] = field(default_factory=list)
    logins: dict[str, list[Rate]] = field(default_factory=dict)
    load: list[float] = field(default_factory=list)  # 1-min load average before each round

    def ratio(self, route: str, nice: bool = False) -> float:
        """Median of the per-round ratios logins/s over hashes/s."""
        pairs = zip(self.logins[route], self.floor_nice if nice else self.floor, strict=True)
        return statistics.median(login.per_s / raw.per_s for login, raw in pairs if raw.per_s)

    def summary(self) -> dict[str, Any]:
        """What results.json keeps (``results["login_floor"]``)."""
        return {
            **asdict(self),
            "floor_per_s": statistics.median(r.per_s for r in self.floor),
            "floor_cpu_ms": statistics.median(r.cpu_ms for r in self.floor),
            "floor_nice_per_s": statistics.median(r.per_s for r in self.floor_nice),
            "routes": {
                route: {
                    "per_s": statistics.median(r.per_s for r in rates),
                    "cpu_ms": statistics.median(r.cpu_ms for r in rates),
                    "errors": sum(r.errors for r in rates),
                    "ratio": self.ratio(route),
                    "ratio_nice": self.ratio(route, nice=True),
                    "met": self.ratio(route) >= 0.90,
                }
                for route, rates in self.logins.items()
            },
        }


# --- the floor: argon2id alone, in a process of its own ------------------------------


def raw_hashing(
    time_cost: int, memory_kib: int, parallelism: int, threads: int, seconds: float
) -> Rate:
    """`threads` threads verifying one hash in a loop for about `seconds`; every hash
    begun before the end is counted and waited for (no edge is cut off)."""
    from argon2 import PasswordHasher
    from argon2.low_level import Type

    hasher = PasswordHasher(
        time_cost=time_cost,
        memory_cost=memory_kib,
        parallelism=parallelism,
        hash_len=32,
        salt_len=16,
        type=Type.ID,
    )
    stored = hasher.hash(PASSWORD)
    counts = [0] * threads
    cpu_before = _process_cpu()
    began = time.perf_counter()
    deadline = began + seconds

    def work(slot: int) -> None:
        while time.perf_counter() < deadline:
            hasher.verify(stored, PASSWORD)
            counts[slot] += 1

    workers = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - began
    done = sum(counts)
    return Rate(done / elapsed, (_process_cpu() - cpu_before) / done * 1e3)


def _process_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def floor_in_process(settings: Any, seconds: float, niceness: int = 0) -> Rate:
    """`raw_hashing` in a fresh Python process (as clean as the server's), `niceness`
    nicer than this one (its threads, and argon2's lane threads, inherit it)."""
    arguments = [
        settings.argon2_time_cost,
        settings.argon2_memory_kib,
        settings.argon2_parallelism,
        settings.argon2_max_concurrent,
        seconds,
    ]
    done = subprocess.run(  # noqa: S603
        [sys.executable, __file__, "raw", *map(str, arguments)],
        preexec_fn=(lambda: os.nice(niceness)) if niceness else None,
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 120,
    )
    return Rate(**json.loads(done.stdout.strip().splitlines()[-1]))


# --- logins through the server --------------------------------------------------------


def _register(env: dict[str, str]) -> None:
    import asyncio

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


def login_rate(url: str, pid: int, workdir: Path, seconds: float, connections: int) -> Rate:
    from loads import cpu_seconds, post_load

    body = json.dumps({"email": EMAIL, "password": PASSWORD})
    before = cpu_seconds(pid)
    run = post_load(url, body, workdir, seconds=seconds, connections=connections)
    done = run.requests - run.errors
    # wrk stops with a login in flight on every connection: the server still hashes them
    # (a started hash runs to its end). Wait for that, so the next case starts on an idle
    # server, and count their CPU here, where they were asked for.
    wait_idle(pid)
    used = cpu_seconds(pid) - before
    return Rate(done / run.seconds, used / (done + connections) * 1e3, run.errors)


def wait_idle(pid: int, limit_s: float = 120.0) -> None:
    """Return once the process used under 2% of a CPU for half a second."""
    from loads import cpu_seconds

    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        before = cpu_seconds(pid)
        time.sleep(0.5)
        if cpu_seconds(pid) - before < 0.01:
            return


def run(
    workdir: Path,
    *,
    rounds: int,
    seconds: float,
    connections: int,
    routes: tuple[str, ...] = tuple(ROUTES),
    tick: Callable[[], None] = lambda: None,
    **settings: str,
) -> FloorResult:
    """Every round: the floor, then each login route (the order turns round by round)."""
    from loads import server
    from throughput import authward_env, settings_of

    from authward.passwords import ARGON2_NICENESS

    here = workdir / "login-floor"
    here.mkdir(exist_ok=True)
    env = authward_env(here, **THROTTLES, AUTHWARD_INSECURE_COOKIES="1", **settings)
    config = settings_of(env)
    _register(env)
    result = FloorResult(
        params=(
            f"argon2id t={config.argon2_time_cost}, m={config.argon2_memory_kib // 1024} MiB, "
            f"p={config.argon2_parallelism}"
        ),
        concurrency=config.argon2_max_concurrent,
        connections=connections,
        seconds=seconds,
        logins={route: [] for route in routes},
    )
    with server("authward-service", env, here, cpu=None) as (url, process):
        for route in routes:  # warm-up: connections, the user's row, the first signing
            login_rate(url + ROUTES[route], process.pid, here, 1, connections)
        cases: list[str] = ["floor", "floor-nice", *routes]
        for round_no in range(rounds):
            result.load.append(os.getloadavg()[0])
            order = cases[round_no % len(cases) :] + cases[: round_no % len(cases)]
            for case in order:
                if case == "floor":
                    result.floor.append(floor_in_process(config, seconds))
                elif case == "floor-nice":
                    result.floor_nice.append(floor_in_process(config, seconds, ARGON2_NICENESS))
                else:
                    rate = login_rate(url + ROUTES[case], process.pid, here, seconds, connections)
                    result.logins[case].append(rate)
                tick()
    return result


def stage(quick: bool, results: dict[str, Any], progress: Any, work: Path) -> None:
    """`make bench`'s stage: ``results["login_floor"]``."""
    rounds, seconds = (1, 2.0) if quick else (5, 8.0)
    with progress.stage("logins at the hashing floor (target 6)", rounds * 4) as tick:
        result = run(work, rounds=rounds, seconds=seconds, connections=8, tick=tick)
    results["login_floor"] = result.summary()
    progress.log(summary_text(results["login_floor"]))


def main(argv: list[str] | None = None) -> int:
    import tempfile

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--json", type=Path, help="also write the summary here")
    args = parser.parse_args(argv)
    rounds, seconds = (1, 2.0) if args.quick else (args.rounds, args.seconds)
    with tempfile.TemporaryDirectory(prefix="authward-floor-") as tmp:
        result = run(Path(tmp), rounds=rounds, seconds=seconds, connections=args.connections)
    summary = summary_text(result.summary())
    print(summary)
    if args.json is not None:
        args.json.write_text(json.dumps(result.summary(), indent=1))
    return 0


def summary_text(summary: dict[str, Any]) -> str:
    """The figures as a few lines of text (also what the report may quote)."""
    lines = [
        f"{summary['params']}, {summary['concurrency']} at once, {summary['connections']} "
        f"connections, {len(summary['floor'])} rounds of {summary['seconds']:g} s, "
        f"load {min(summary['load']):.2f}-{max(summary['load']):.2f}",
        f"floor: {summary['floor_per_s']:.2f} hashes/s, {summary['floor_cpu_ms']:.0f} ms CPU "
        f"per hash; at the hashing threads' niceness {summary['floor_nice_per_s']:.2f}/s",
    ]
    for route, row in summary["routes"].items():
        lines.append(
            f"{route} login: {row['per_s']:.2f} logins/s, {row['cpu_ms']:.0f} ms CPU per login, "
            f"{row['ratio']:.3f}x of the floor ({'met' if row['met'] else 'MISSED'}), "
            f"{row['ratio_nice']:.3f}x of the floor at that niceness, "
            f"{row['errors']} errors"
        )
    return "\n".join(lines)


if __name__ == "__main__" and len(sys.argv) == 7 and sys.argv[1] == "raw":
    t, m, p, threads = (int(a) for a in sys.argv[2:6])
    print(json.dumps(asdict(raw_hashing(t, m, p, threads, float(sys.argv[6])))))
elif __name__ == "__main__":
    sys.exit(main())
