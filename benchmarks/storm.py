"""Targets 3 and 4: /auth/me through a login storm, and what logins themselves cost.

One authward service (one uvicorn worker, not pinned: the hashing may use every core)
with argon2id at the RFC 9106 low-memory parameters (t=3, m=64 MiB, p=4) and its
default limit of hashes at once (``AUTHWARD_ARGON2_MAX_CONCURRENT``).

1. Logins alone: ``POST /auth/token`` with the right password over `login_connections`
   connections: logins per second, and the server's peak resident memory.
2. The timeline: ``GET /auth/me`` with a bearer token, in one-second slices, first alone,
   then while the same login storm runs, then alone again. Each slice gives requests per
   second and p99; the storm's own logins per second are sampled alongside.
"""

from __future__ import annotations

import asyncio
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from loads import peak_rss_mib, post_load, rss_mib, server
from throughput import authward_env, settings_of

from authward.cli.loadgen import load
from authward.runtime import build_runtime

EMAIL = "storm@bench.example.com"
# Not containing the part before the @: the password policy refuses that (NIST 800-63B).
PASSWORD = "gale-password-1"


@dataclass
class Slice:
    t: float  # seconds since the timeline began, at the slice's end
    phase: str  # "alone", "storm", "after"
    rps: float
    p99_ms: float
    errors: int


@dataclass
class StormResult:
    logins_per_s: float  # logins alone
    login_p50_ms: float
    login_p99_ms: float
    login_errors: int
    rss_before_mib: float
    peak_rss_mib: float
    storm_logins_per_s: float  # during the timeline's storm
    slices: list[Slice] = field(default_factory=list)
    memory: list[tuple[float, float]] = field(default_factory=list)  # (t, RSS MiB)
    params: str = ""

    def phase(self, name: str) -> list[Slice]:
        return [s for s in self.slices if s.phase == name]

    @property
    def alone_rps(self) -> float:
        return statistics.median(s.rps for s in self.phase("alone"))

    @property
    def storm_rps(self) -> float:
        return statistics.median(s.rps for s in self.phase("storm"))

    @property
    def alone_p99_ms(self) -> float:
        return statistics.median(s.p99_ms for s in self.phase("alone"))

    @property
    def storm_p99_ms(self) -> float:
        return statistics.median(s.p99_ms for s in self.phase("storm"))


def _token(env: dict[str, str]) -> str:
    settings = settings_of(env)

    async def make() -> str:
        runtime = build_runtime(settings)
        await runtime.open(background=False)
        try:
            user = await runtime.accounts.register(EMAIL, PASSWORD)
            from authward.ids import Device

            pair = await runtime.tokens.issue(user.id, Device.of("bench", "127.0.0.1"))
            return pair.access_token
        finally:
            await runtime.close()

    return asyncio.run(make())


def run(
    workdir: Path,
    *,
    alone_s: int,
    storm_s: int,
    after_s: int,
    login_s: int,
    login_connections: int,
    tick: Callable[[], None] = lambda: None,
) -> StormResult:
    storm_dir = workdir / "storm"
    storm_dir.mkdir(exist_ok=True)
    # RFC 9106 argon2 parameters: the defaults. Every login comes from 127.0.0.1 for one
    # account, and a login holds its slot of the (account, address) count while its hash
    # runs (counted before the work), so the default ceilings would answer most of the
    # storm 429 at once: raised, as the soak does, so that what is measured is hashing.
    env = authward_env(
        storm_dir,
        AUTHWARD_LOGIN_MAX_FAILURES="10000",
        AUTHWARD_LOGIN_ADDRESS_MAX_FAILURES="100000",
    )
    settings = settings_of(env)
    params = (
        f"argon2id t={settings.argon2_time_cost}, m={settings.argon2_memory_kib // 1024} MiB, "
        f"p={settings.argon2_parallelism}, at most {settings.argon2_max_concurrent} at once"
    )
    bearer = {"Authorization": f"Bearer {_token(env)}"}
    body = f'{{"email": "{EMAIL}", "password": "{PASSWORD}"}}'
    with server("authward-service", env, storm_dir, cpu=None) as (url, process):
        load(url + "/auth/me", bearer, seconds=1, connections=16)  # warm-up
        rss_before = rss_mib(process.pid)
        logins = post_load(
            url + "/auth/token", body, storm_dir, seconds=login_s, connections=login_connections
        )
        tick()
        peak = peak_rss_mib(process.pid)
        slices, memory, storm_logins = _timeline(
            url, bearer, body, storm_dir, process.pid, alone_s, storm_s, after_s,
            login_connections, tick,
        )  # fmt: skip
    return StormResult(
        logins_per_s=(logins.requests - logins.errors) / logins.seconds,
        login_p50_ms=logins.p50_ms,
        login_p99_ms=logins.p99_ms,
        login_errors=logins.errors,
        rss_before_mib=rss_before,
        peak_rss_mib=max(peak, max((m for _, m in memory), default=0.0)),
        storm_logins_per_s=storm_logins,
        slices=slices,
        memory=memory,
        params=params,
    )


def _timeline(
    url: str,
    bearer: dict[str, str],
    body: str,
    workdir: Path,
    pid: int,
    alone_s: int,
    storm_s: int,
    after_s: int,
    connections: int,
    tick: Callable[[], None],
) -> tuple[list[Slice], list[tuple[float, float]], float]:
    started = time.monotonic()
    memory: list[tuple[float, float]] = []
    done = threading.Event()

    def sample_memory() -> None:
        while not done.wait(0.5):
            memory.append((time.monotonic() - started, rss_mib(pid)))

    storm_result: list[float] = []

    def storm() -> None:
        result = post_load(
            url + "/auth/token", body, workdir, seconds=storm_s, connections=connections
        )
        storm_result.append((result.requests - result.errors) / result.seconds)

    sampler = threading.Thread(target=sample_memory, daemon=True)
    sampler.start()
    slices: list[Slice] = []
    storm_thread: threading.Thread | None = None
    for phase, seconds in (("alone", alone_s), ("storm", storm_s), ("after", after_s)):
        if phase == "storm":
            storm_thread = threading.Thread(target=storm, daemon=True)
            storm_thread.start()
            time.sleep(0.3)  # let the first hashes start
        phase_end = time.monotonic() + seconds - (0.3 if phase == "storm" else 0)
        while time.monotonic() < phase_end - 0.5:
            run = load(url + "/auth/me", bearer, seconds=1, connections=16)
            slices.append(Slice(time.monotonic() - started, phase, run.rps, run.p99_ms, run.errors))
            tick()
        if phase == "storm" and storm_thread is not None:
            storm_thread.join()
    done.set()
    sampler.join()
    return slices, memory, storm_result[0] if storm_result else float("nan")
