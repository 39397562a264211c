"""HTTP load against the bench apps: servers in child processes, routes taking turns.

A configuration is one app (`benchmarks/serve.py`) with its environment, the credential
headers to send, and the routes to compare. Each round runs every route once, in turn,
so a bare route and a protected one see the same machine state; a ratio is the median
of the per-round ratios. The server runs on one CPU and the load generator on another
when there are two (taskset, or the same affinity call where taskset is missing).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from authward.cli.loadgen import Load, cpus, free_port, load, on_cpu, wrk

__all__ = ["Load", "cpus", "free_port", "load", "on_cpu", "wrk"]

HERE = Path(__file__).resolve().parent


@dataclass
class Placement:
    """Which CPU the server and the load generator get (None: wherever the OS likes)."""

    server: int | None
    load: int | None

    @classmethod
    def split(cls) -> Placement:
        usable = cpus()
        return cls(usable[0], usable[1]) if len(usable) >= 2 else cls(None, None)

    def describe(self) -> str:
        if self.server is None:
            return "not pinned (fewer than two usable CPUs)"
        how = "taskset" if shutil.which("taskset") else "sched_setaffinity"
        return f"server on CPU {self.server}, load generator on CPU {self.load} ({how})"


def load_tool() -> str:
    return "wrk" if shutil.which("wrk") else "python (authward.cli.loadgen)"


@contextlib.contextmanager
def server(
    app: str,
    env: dict[str, str],
    workdir: Path,
    *,
    cpu: int | None,
    python: str = sys.executable,
    workers: int = 1,
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Run `benchmarks/serve.py app` until the block ends; yield its URL and process."""
    port = free_port()
    command = [python, str(HERE / "serve.py"), app, "--port", str(port)]
    command += ["--workers", str(workers)]
    preexec = None
    if cpu is not None and shutil.which("taskset"):
        command = ["taskset", "-c", str(cpu), *command]
    else:
        preexec = on_cpu(cpu)
    log = (workdir / f"{app}-{port}.log").open("wb")
    process = subprocess.Popen(  # noqa: S603
        command,
        cwd=workdir,
        env={**os.environ, **env},
        stdout=log,
        stderr=subprocess.STDOUT,
        preexec_fn=preexec,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url, process, workdir / f"{app}-{port}.log")
        yield url, process
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def wait_until_up(
    url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 90
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {log.read_text(errors='replace')[-2000:]}")
        with contextlib.suppress(OSError):
            with urllib.request.urlopen(url + "/bench/bare", timeout=2) as answer:  # noqa: S310
                if answer.status == 200:
                    return
        time.sleep(0.2)
    raise RuntimeError(f"server did not start: {log.read_text(errors='replace')[-2000:]}")


@dataclass
class Route:
    name: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Comparison:
    """Every route's runs, round by round, in one configuration, with the server's CPU
    time per request of each run (µs; NaN where /proc is missing)."""

    config: str
    routes: list[str]
    runs: dict[str, list[Load]]
    tool: str
    cpu_us: dict[str, list[float]] = field(default_factory=dict)

    def cpu_per_request(self, route: str) -> float:
        return statistics.median(self.cpu_us[route]) if self.cpu_us.get(route) else float("nan")

    def cpu_ratio(self, route: str, baseline: str) -> float:
        """Median per-round ratio of server CPU per request, baseline over route: how the
        throughput ratio would come out on an otherwise idle core."""
        pairs = zip(self.cpu_us.get(route, []), self.cpu_us.get(baseline, []), strict=True)
        ratios = [b / a for a, b in pairs if a > 0]
        return statistics.median(ratios) if ratios else float("nan")

    def median(self, route: str) -> Load:
        loads = self.runs[route]
        return Load(
            requests=int(statistics.median(run.requests for run in loads)),
            seconds=statistics.median(run.seconds for run in loads),
            p50_ms=statistics.median(run.p50_ms for run in loads),
            p99_ms=statistics.median(run.p99_ms for run in loads),
            errors=sum(run.errors for run in loads),
            tool=loads[0].tool,
        )

    def rps(self, route: str) -> float:
        return statistics.median(run.rps for run in self.runs[route])

    def ratio(self, route: str, baseline: str) -> float:
        """Median of the per-round ratios of requests per second."""
        pairs = zip(self.runs[route], self.runs[baseline], strict=True)
        return statistics.median(a.rps / b.rps for a, b in pairs if b.rps)

    def added_us(self, route: str, baseline: str) -> float:
        """Median per-round difference in server time per request, µs (server on one core)."""
        pairs = zip(self.runs[route], self.runs[baseline], strict=True)
        return statistics.median(1e6 / a.rps - 1e6 / b.rps for a, b in pairs if a.rps and b.rps)


def compare(
    config: str,
    url: str,
    routes: list[Route],
    *,
    rounds: int,
    seconds: float,
    connections: int,
    placement: Placement,
    server_pid: int | None = None,
    tick: Callable[[], None] = lambda: None,
) -> Comparison:
    """Run each route for `seconds`, in turn, `rounds` times (after one warm-up pass)."""
    runs: dict[str, list[Load]] = {route.name: [] for route in routes}
    cpu: dict[str, list[float]] = {route.name: [] for route in routes}
    for route in routes:  # warm-up: caches filled, connections made, JIT-free but still
        load(
            url + route.path, route.headers, seconds=1, connections=connections, cpu=placement.load
        )
    for round_no in range(rounds):
        order = routes[round_no % len(routes) :] + routes[: round_no % len(routes)]
        for route in order:
            before = cpu_seconds(server_pid)
            run = load(
                url + route.path,
                route.headers,
                seconds=seconds,
                connections=connections,
                cpu=placement.load,
            )
            runs[route.name].append(run)
            if run.requests:
                cpu[route.name].append((cpu_seconds(server_pid) - before) / run.requests * 1e6)
            tick()
    tool = next(iter(runs.values()))[0].tool
    return Comparison(config, [r.name for r in routes], runs, tool, cpu)


def cpu_seconds(pid: int | None) -> float:
    """CPU time the process and its live children (uvicorn's workers) have used so far,
    every thread (user + system), seconds."""
    if pid is None:
        return float("nan")
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    own = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return own + sum(cpu_seconds(child) for child in children(pid))


def children(pid: int) -> list[int]:
    try:
        listed = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []
    return [int(child) for child in listed]


def post_load(
    url: str,
    body: str,
    workdir: Path,
    *,
    seconds: float,
    connections: int,
    content_type: str = "application/json",
    cpu: int | None = None,
) -> Load:
    """POST `body` to `url` over keep-alive connections for `seconds` (a login storm)."""
    if not shutil.which("wrk"):
        return load(
            url,
            {"Content-Type": content_type},
            seconds=seconds,
            connections=connections,
            body=body.encode(),
        )
    script = workdir / f"post-{os.getpid()}.lua"
    escaped = body.replace("\\", "\\\\").replace('"', '\\"')
    script.write_text(
        f'wrk.method = "POST"\nwrk.body = "{escaped}"\n'
        f'wrk.headers["Content-Type"] = "{content_type}"\n'
    )
    try:
        return wrk(
            url,
            {},
            seconds=seconds,
            connections=connections,
            cpu=cpu,
            script=str(script),
            timeout=60,
        )
    finally:
        script.unlink(missing_ok=True)


def peak_rss_mib(pid: int) -> float:
    """The process's peak resident memory (VmHWM), MiB; NaN where /proc is missing."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return float("nan")
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def rss_mib(pid: int) -> float:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return float("nan")
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")
