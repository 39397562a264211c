"""`make bench`: every target of the performance issue, side by side with its baselines.

    .venv-bench/bin/python benchmarks/run.py              # the full run (about 55 minutes)
    .venv-bench/bin/python benchmarks/run.py --quick      # a smoke test of every stage
    .venv-bench/bin/python benchmarks/run.py --stages tokens http

Stages: ``tokens`` (target 2), ``http`` (target 1, and the peer), ``storm`` (targets 3
and 4), ``scale`` (target 5), ``propagation`` (benchmarks/propagation.py),
``login_floor`` (target 6, login_floor.py), ``scaleout`` (target 5: workers, nodes and
the sizing figures, scaleout.py), and the figures the docs give besides: ``passwords``
(password_costs.py: argon2id, the common list) and ``enumeration``
(benchmarks/enumeration.py); ``storereads`` (issue 19's target 2: what a session check's
store read adds with no cache, storereads.py). After a full run, the docs' figures are
written from the report's results.json (figures.py).
Writes ``bench-report/index.md``, its PNG plots and ``results.json``; prints every
target with its verdict. Nothing here asserts: a missed target is reported, not raised.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import figures  # noqa: E402
import loads  # noqa: E402
import report  # noqa: E402

STAGES = (
    "tokens", "http", "storm", "scale", "propagation", "login_floor", "scaleout", "passwords",
    "enumeration", "storereads",
)  # fmt: skip
SCALE_STORES = ("SQLite", "PostgreSQL", "Redis")
ROOT = HERE.parent


@dataclasses.dataclass
class Plan:
    quick: bool
    stages: tuple[str, ...]
    out: Path
    cache_ttl: str = "5"
    stores: tuple[str, ...] = SCALE_STORES
    scale_sessions: int | None = None  # the scale stage's large store, if not the default

    @property
    def http(self) -> dict[str, Any]:
        return (
            {"rounds": 1, "seconds": 1, "connections": 32}
            if self.quick
            else {"rounds": 9, "seconds": 2, "connections": 32}
        )

    @property
    def tokens(self) -> dict[str, Any]:
        return (
            {"repeats": 3, "target_ms": 5.0} if self.quick else {"repeats": 15, "target_ms": 15.0}
        )

    @property
    def storm(self) -> dict[str, Any]:
        if self.quick:
            return {"alone_s": 2, "storm_s": 4, "after_s": 2, "login_s": 3, "login_connections": 4}
        return {"alone_s": 6, "storm_s": 15, "after_s": 5, "login_s": 10, "login_connections": 8}

    @property
    def scale(self) -> dict[str, Any]:
        if self.scale_sessions is not None:
            return {**self._scale, "large": self.scale_sessions}
        return self._scale

    @property
    def _scale(self) -> dict[str, Any]:
        if self.quick:
            return {
                "small": 1_000, "large": 20_000, "probes": 50, "sweep_runs": 3, "sweep_limit_s": 60,
            }  # fmt: skip
        # Redis swept three times (target 7); each sweep stopped after 4 minutes at most,
        # which bounds the stage at about 25 minutes (SQLite, PostgreSQL, Redis three times).
        # The paced Redis sweep (a quarter of the time, steps of short scripts) clears a
        # million in about 165 s on an idle 2-core machine: 3 minutes left it no margin,
        # and a sweep cut short is a missed run whatever its p99.
        return {
            "small": 1_000, "large": 1_000_000, "probes": 500, "sweep_runs": 3,
            "sweep_limit_s": 240,
        }  # fmt: skip


# --- progress ----------------------------------------------------------------------------


class Progress:
    """A rich progress display (a plain line per step when stdout is no terminal)."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
        from rich.progress import Progress as RichProgress

        self.console = Console()
        self._progress = RichProgress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=self.console,
            transient=False,
        )
        self._task: Any = None

    def __enter__(self) -> Progress:
        self._progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.__exit__(None, None, None)

    @contextlib.contextmanager
    def stage(self, name: str, steps: int) -> Iterator[Callable[[], None]]:
        task = self._progress.add_task(name, total=steps)
        started = time.monotonic()
        if not self.console.is_terminal:  # no live display: a line per stage for the log
            self.console.print(f"{name} ...", highlight=False)
        yield lambda: self._progress.advance(task)
        took = f"{name} ({time.monotonic() - started:.0f} s)"
        self._progress.update(task, completed=steps, description=took)
        if not self.console.is_terminal:
            self.console.print(f"done: {took}", highlight=False)

    def log(self, text: str) -> None:
        self._progress.console.print(text, highlight=False)


# --- the stages --------------------------------------------------------------------------


def stage_tokens(plan: Plan, results: dict[str, Any], progress: Progress) -> None:
    import verify

    rows = []
    with progress.stage("token verification (target 2)", len(verify.ALGORITHMS)) as tick:
        for alg in verify.ALGORITHMS:
            row = asyncio.run(verify.measure_algorithm(alg, quick=plan.quick, **plan.tokens))
            rows.append({**dataclasses.asdict(row), "met": row.met})
            tick()
    results["verify"] = rows


def stage_http(
    plan: Plan, results: dict[str, Any], progress: Progress, work: Path, redis_url: str | None
) -> None:
    import throughput

    configs = throughput.configs(work, redis_url, plan.cache_ttl)
    if not _peers_installed():
        configs = [c for c in configs if not c.app.startswith("fastapi-users")]
        results["meta"]["notes"].append(
            "fastapi-users is not installed here: the peer rows are missing."
        )
    placement = loads.Placement.split()
    steps = sum(plan.http["rounds"] * len(c.routes(throughput.Credentials())) for c in configs)
    rows: list[dict[str, Any]] = []
    with progress.stage("HTTP throughput (target 1)", steps) as tick:
        for config in configs:
            try:
                result = throughput.run_config(config, work, placement, tick=tick, **plan.http)
            except Exception as exc:  # one broken configuration must not cost the others
                progress.log(f"[red]{config.name}: {exc}")
                results["meta"]["notes"].append(f"{config.name}: failed ({exc}).")
                continue
            rows += result.rows()
    results["http"] = rows


def _peers_installed() -> bool:
    try:
        metadata.version("fastapi-users")
    except metadata.PackageNotFoundError:
        return False
    return True


def stage_storm(plan: Plan, results: dict[str, Any], progress: Progress, work: Path) -> None:
    import storm

    steps = sum(plan.storm[k] for k in ("alone_s", "storm_s", "after_s")) + 1
    with progress.stage("login storm (targets 3, 4)", steps) as tick:
        result = storm.run(work, tick=tick, **plan.storm)
    results["storm"] = {
        **dataclasses.asdict(result),
        "alone_rps": result.alone_rps,
        "storm_rps": result.storm_rps,
        "alone_p99_ms": result.alone_p99_ms,
        "storm_p99_ms": result.storm_p99_ms,
        "login_connections": plan.storm["login_connections"],
        "login_s": plan.storm["login_s"],
    }


def stage_scale(
    plan: Plan, results: dict[str, Any], progress: Progress, work: Path, redis_url: str | None
) -> None:
    import scale
    import stores
    import throughput

    placement = loads.Placement.split()

    @contextlib.contextmanager
    def serve(backend: scale.Backend, probe: str) -> Iterator[tuple[str, dict[str, str]]]:
        extra = {"AUTHWARD_DATABASE_URL": backend.database_url, "AUTHWARD_SWEEP_INTERVAL": "86400"}
        if backend.name == "Redis":
            extra["AUTHWARD_REDIS_URL"] = backend.url
        env = throughput.authward_env(work / "scale", **extra)
        settings = throughput.settings_of(env)
        from authward.web.transports import session_cookie_name

        with loads.server("authward-library", env, work / "scale", cpu=placement.server) as (
            url,
            _,
        ):
            yield url + "/bench/protected", {"Cookie": f"{session_cookie_name(settings)}={probe}"}

    (work / "scale").mkdir(exist_ok=True)
    sqlite = (f"sqlite:///{work / 'scale' / 'few.db'}", f"sqlite:///{work / 'scale' / 'many.db'}")
    backends: list[tuple[str, tuple[str, str]]] = [("SQLite", sqlite)]
    skipped: list[str] = []
    with contextlib.ExitStack() as stack:
        postgres = [stack.enter_context(stores.postgres_database()) for _ in range(2)]
        if None not in postgres:
            backends.append(("PostgreSQL", (str(postgres[0]), str(postgres[1]))))
        else:
            skipped.append(f"PostgreSQL: no server at {stores.POSTGRES_ADMIN}; skipped.")
        redis = [stack.enter_context(stores.redis_server(work / "scale")) for _ in range(2)]
        if None not in redis:
            backends.append(("Redis", (str(redis[0]), str(redis[1]))))
        else:
            skipped.append("Redis: no redis-server on the PATH; skipped.")
        backends = [b for b in backends if b[0] in plan.stores]
        checks, sweeps = [], []
        ticks = sum(
            3 + (plan.scale["sweep_runs"] if name == "Redis" else 1) for name, _ in backends
        )
        with progress.stage("a million sessions (targets 5 and 7)", ticks) as tick:
            for name, urls in backends:
                try:
                    cost, runs = scale.run_backend(
                        name, urls, work / "scale", serve=serve, load_cpu=placement.load,
                        tick=tick, **plan.scale,
                    )  # fmt: skip
                except Exception as exc:
                    progress.log(f"[red]{name}: {exc}")
                    skipped.append(f"{name}: failed ({exc}).")
                    continue
                checks.append(dataclasses.asdict(cost))
                sweeps += [
                    {**dataclasses.asdict(run), "ratio": run.ratio, "per_s": run.per_s}
                    for run in runs
                ]
    results["scale"], results["sweep"], results["scale_skipped"] = checks, sweeps, skipped
    results["meta"]["scale_note"] = (scale.__doc__ or "").split("\n\n", 1)[1].strip()


def stage_propagation(
    plan: Plan, results: dict[str, Any], progress: Progress, redis_url: str | None
) -> None:
    import propagation

    script = HERE / "propagation.py"
    rounds = "5" if plan.quick else "40"
    modes = ["sql", "postgres", "workers-poll", "workers"]
    command = [sys.executable, str(script), "--rounds", rounds, "--sessions"]
    command += [arg for mode in modes for arg in ("--mode", mode)]
    if redis_url is not None:
        command += ["--mode", "redis", "--redis", redis_url]
    with progress.stage("revocation propagation (benchmarks/propagation.py)", 1) as tick:
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=ROOT)  # noqa: S603
            output = done.stdout + (
                f"\n(exit status {done.returncode})\n{done.stderr[-2000:]}"
                if done.returncode
                else ""
            )
        except (subprocess.TimeoutExpired, OSError) as exc:
            output = f"did not finish: {exc}"
        tick()
    results["propagation"] = output
    results["propagation_rows"] = propagation.parse(output)
    results["propagation_note"] = (
        f"Output of `{' '.join(['benchmarks/propagation.py', *command[2:]])}` run as is:"
    )


def stage_storereads(plan: Plan, results: dict[str, Any], progress: Progress) -> None:
    import storereads

    with progress.stage(
        "a session check's store read (target 2, benchmarks/storereads.py)", 1
    ) as tick:
        results["storereads"] = storereads.run(quick=plan.quick)
        tick()


def stage_passwords(plan: Plan, results: dict[str, Any], progress: Progress) -> None:
    import password_costs

    with progress.stage("password checks (argon2id, the common list)", 1) as tick:
        results["passwords"] = password_costs.run(repeats=2 if plan.quick else 5)
        tick()


def stage_enumeration(plan: Plan, results: dict[str, Any], progress: Progress) -> None:
    command = [sys.executable, str(HERE / "enumeration.py")]
    command += ["--rounds", "5", "--warmup", "1"] if plan.quick else []
    with progress.stage("answer timing by email (benchmarks/enumeration.py)", 1) as tick:
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=900, cwd=ROOT)  # noqa: S603
        except (subprocess.TimeoutExpired, OSError) as exc:
            results["meta"]["notes"].append(f"enumeration: did not finish ({exc}).")
            return
        tick()
    if done.returncode:
        results["meta"]["notes"].append(f"enumeration: failed ({done.stderr[-500:]}).")
        return
    results["enumeration"] = done.stdout


# --- the run ------------------------------------------------------------------------------


def environment(plan: Plan, started: float) -> dict[str, str]:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    versions = []
    for package in (
        "authward",
        "fastapi",
        "starlette",
        "uvicorn",
        "uvloop",
        "httptools",
        "PyJWT",
        "joserfc",
        "cryptography",
        "argon2-cffi",
        "fastapi-users",
        "SQLAlchemy",
        "redis",
    ):
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions.append(f"{package} {metadata.version(package)}")
    wrk_version = "absent"
    if shutil.which("wrk"):
        out = subprocess.run(["wrk", "--version"], capture_output=True, text=True).stdout  # noqa: S603
        wrk_version = (out.splitlines() or ["wrk"])[0].split(" [")[0]
    load = os.getloadavg()
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "mode": "quick (smoke test: figures are not meaningful)" if plan.quick else "full",
        "CPU": f"{cpu}, {os.cpu_count()} logical CPUs ({len(loads.cpus()) or '?'} usable)",
        "memory": _memory(),
        "Python": f"{platform.python_version()} ({platform.system()} {platform.machine()})",
        "versions": ", ".join(versions),
        "load generator": f"{loads.load_tool()} ({wrk_version}): 1 thread, keep-alive, closed loop",
        "placement": loads.Placement.split().describe(),
        "machine load (1-min load average) at start": f"{load[0]:.2f}",
    }


def _memory() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                return f"{int(line.split()[1]) // 1024:,} MiB"
    return "unknown"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smoke test: every stage, briefly")
    parser.add_argument("--stages", nargs="+", choices=STAGES, default=list(STAGES))
    parser.add_argument("--out", type=Path, default=ROOT / "bench-report")
    parser.add_argument(
        "--stores", nargs="+", choices=SCALE_STORES, default=list(SCALE_STORES),
        help="the stores the scale stage measures",
    )  # fmt: skip
    parser.add_argument(
        "--scale-sessions", type=int, default=None,
        help="sessions in the scale stage's large store (default 1,000,000; 20,000 quick)",
    )  # fmt: skip
    parser.add_argument(
        "--session-cache-ttl", default="5", help="AUTHWARD_SESSION_CACHE_TTL where a cache is on"
    )
    args = parser.parse_args(argv)
    plan = Plan(
        args.quick,
        tuple(args.stages),
        args.out,
        args.session_cache_ttl,
        tuple(args.stores),
        args.scale_sessions,
    )
    started = time.monotonic()
    results: dict[str, Any] = {"meta": {"environment": environment(plan, started), "notes": []}}
    import stores

    with Progress() as progress, tempfile.TemporaryDirectory(prefix="authward-bench-") as tmp:
        work = Path(tmp)
        progress.log(
            f"authward benchmark ({'quick' if plan.quick else 'full'}): {', '.join(plan.stages)}"
        )
        with stores.redis_server(work) as redis_url:
            if redis_url is None:
                results["meta"]["notes"].append(
                    "redis-server is not on the PATH: Redis rows are missing."
                )
            if "tokens" in plan.stages:
                stage_tokens(plan, results, progress)
            if "http" in plan.stages:
                stage_http(plan, results, progress, work, redis_url)
            if "storm" in plan.stages:
                stage_storm(plan, results, progress, work)
            if "scale" in plan.stages:
                stage_scale(plan, results, progress, work, redis_url)
            if "propagation" in plan.stages:
                stage_propagation(plan, results, progress, redis_url)
            if "login_floor" in plan.stages:
                import login_floor

                login_floor.stage(plan.quick, results, progress, work)
            if "scaleout" in plan.stages:
                import scaleout

                scaleout.stage(plan.quick, results, progress, work)
            if "passwords" in plan.stages:
                stage_passwords(plan, results, progress)
            if "enumeration" in plan.stages:
                stage_enumeration(plan, results, progress)
            if "storereads" in plan.stages:
                stage_storereads(plan, results, progress)
    load = os.getloadavg()
    meta = results["meta"]
    meta["environment"]["machine load (1-min load average) at end"] = f"{load[0]:.2f}"
    meta["environment"]["duration"] = f"{time.monotonic() - started:.0f} s"
    meta["summary"] = (
        "Every figure below was measured in one run of `make bench` on one machine, each "
        "beside its baseline from the same run. Ratios are what to read; absolute figures "
        "depend on the machine and on what else ran on it (see the load average)."
    )
    plan.out.mkdir(parents=True, exist_ok=True)
    (plan.out / "results.json").write_text(json.dumps(_small(results), indent=1, default=str))
    page = report.write(results, plan.out)
    print_targets(results, progress_console())
    print(f"\nreport: {page}")
    write_figures(plan)
    return 0


def write_figures(plan: Plan) -> None:
    """After a full run into bench-report/, write the docs' measured figures from it."""
    if plan.quick or set(plan.stages) != set(STAGES) or plan.out.resolve() != ROOT / "bench-report":
        print(
            "The docs' figures were left alone (not a full run into bench-report/); "
            "`benchmarks/figures.py` writes them from bench-report/results.json."
        )
        return
    try:
        changed = figures.rewrite(figures.load(plan.out / "results.json"))
    except figures.FiguresError as exc:
        print(f"The docs' figures were not written: {exc}")
        return
    for path in changed:
        print(f"figures written: {path.relative_to(ROOT)}")


def _small(results: dict[str, Any]) -> dict[str, Any]:
    """What goes into results.json: everything but the storm's memory samples."""
    copy = dict(results)
    if "storm" in copy:
        copy["storm"] = {k: v for k, v in copy["storm"].items() if k != "memory"}
    return copy


def progress_console() -> Any:
    from rich.console import Console

    return Console()


def print_targets(results: dict[str, Any], console: Any) -> None:
    from rich.table import Table

    table = Table(title="Targets", title_justify="left")
    for column in ("target", "measured", "verdict"):
        table.add_column(column)
    for target in report.targets(results):
        table.add_row(target["target"], target["value"], report._ok(target["met"]))
    console.print(table)


if __name__ == "__main__":
    sys.exit(main())
