"""Soak and login-storm runs against a real `authward serve` on 127.0.0.1.

Soak: N concurrent clients, each looping register → session login → me → token login →
me (bearer) → refresh → me (new bearer) → session logout → me (must be 401) → token
revoke, for a set time. Every answer is checked (status and body); the run reports the
errors (must be 0), throughput, p50/p99 latency overall and per step, and the server
process's resident memory (VmRSS from /proc) after the warm-up and at the end, which
must stay within 10%.

Storm: while `--storm-clients` clients log in back to back (argon2 at the server's
parameters: RFC 9106 by default), `--clients` clients call ``GET /auth/me`` with a valid
bearer token; the same is measured alone first. Reports /auth/me p50/p99 and
throughput with and without the storm, their ratios, the login rate and the server's
CPU use (from /proc: 200% is both cores busy).

    .venv/bin/python benchmarks/soak.py soak --clients 200 --duration 600
    .venv/bin/python benchmarks/soak.py soak --database-url postgresql://... --redis-url ...
    .venv/bin/python benchmarks/soak.py storm --duration 60
    .venv/bin/python benchmarks/soak.py soak --url http://127.0.0.1:8000 --pid 1234

Without ``--url`` the script starts the server itself (a temporary directory holds its
SQLite file and key) and stops it at the end. Load goes to 127.0.0.1 only: a ``--url``
elsewhere is refused. Every run is bounded by ``--duration`` and stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json as json_module
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from authward.cli.loadgen import free_port

PASSWORD = "correct horse battery staple"
CHEAP_ARGON2 = {
    "AUTHWARD_ARGON2_TIME_COST": "1",
    "AUTHWARD_ARGON2_MEMORY_KIB": "8",
    "AUTHWARD_ARGON2_PARALLELISM": "1",
}
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


# --- the server ----------------------------------------------------------------------


@contextlib.contextmanager
def started_server(args: argparse.Namespace) -> Iterator[tuple[str, int]]:
    """Run `authward serve` on a free loopback port; yield its URL and process id."""
    with tempfile.TemporaryDirectory(prefix="authward-soak-") as workdir:
        port = free_port()
        env = {
            **os.environ,
            "AUTHWARD_DATABASE_URL": args.database_url or f"sqlite:///{workdir}/authward.db",
            "AUTHWARD_KEY_FILE": f"{workdir}/authward.key",
            "AUTHWARD_INSECURE_COOKIES": "1",  # plain HTTP on loopback
            # Every client comes from 127.0.0.1: per-address ceilings would throttle the
            # load itself. So would the login ceilings: an attempt holds its slot while
            # its password is checked, and the storm logs one account in over 50
            # connections at once from one address.
            "AUTHWARD_REGISTER_MAX_ATTEMPTS": "100000",
            "AUTHWARD_REFRESH_MAX_FAILURES": "100000",
            "AUTHWARD_LOGIN_MAX_FAILURES": "10000",
            "AUTHWARD_LOGIN_ADDRESS_MAX_FAILURES": "100000",
            # State bounded by the access TTL (revocations, remembered tokens) reaches its
            # steady size within the warm-up: otherwise RSS would still be climbing then.
            "AUTHWARD_ACCESS_TTL": str(args.access_ttl or (300 if args.mode == "storm" else 60)),
            "AUTHWARD_SWEEP_INTERVAL": "10",
            "AUTHWARD_DEMO_PAGES": "0",
        }
        if args.redis_url:
            env["AUTHWARD_REDIS_URL"] = args.redis_url
        if args.argon2 == "cheap":
            env.update(CHEAP_ARGON2)
        log_path = Path(workdir) / "server.log"
        command = [sys.executable, "-m", "authward", "serve", "--port", str(port)]
        command += ["--log-level", "warning", *args.serve_arg]
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                command, cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT
            )
            base = f"http://127.0.0.1:{port}"
            try:
                _wait_until_up(base, process, log_path)
                yield base, process.pid
            finally:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
                tail = log_path.read_text(errors="replace").strip().splitlines()[-5:]
                if tail:
                    print("server log (last lines):", *tail, sep="\n  ", file=sys.stderr)


def _wait_until_up(base: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited:\n{log.read_text(errors='replace')}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise SystemExit(f"server did not start:\n{log.read_text(errors='replace')}")


def rss_kib(pid: int) -> int:
    """Resident memory of `pid` and its children (uvicorn workers), KiB."""
    total = 0
    for each in [pid, *_children(pid)]:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{each}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of `pid` and its children so far, seconds."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for each in [pid, *_children(pid)]:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def _children(pid: int) -> list[int]:
    with contextlib.suppress(OSError):
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
        return [int(p) for p in text.split()]
    return []


# --- a lean HTTP/1.1 client ------------------------------------------------------------
#
# httpx costs about three times what the server spends on a ``GET /auth/me`` on this
# machine (measured: 11.5 ms against 3.7 ms per sequential request, same server), so with
# both on two cores the load generator would mostly measure itself. This client speaks
# just enough HTTP/1.1 for the flows below: one keep-alive connection, Content-Length
# bodies, cookies by name. httpx still does the setup and the health checks.


@dataclass
class Reply:
    status_code: int
    headers: list[tuple[str, str]]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode(errors="replace")

    def json(self) -> Any:
        return json_module.loads(self.body)


class TransportError(Exception):
    pass


class LeanClient:
    """One keep-alive connection to `base` (http://127.0.0.1:port), with a cookie jar."""

    def __init__(self, base: str, timeout: float = 60) -> None:
        parts = urlsplit(base)
        self._host, self._port = parts.hostname or "127.0.0.1", parts.port or 80
        self._timeout = timeout
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        self.cookies: dict[str, str] = {}

    async def __aenter__(self) -> LeanClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._streams is not None:
            self._streams[1].close()
            self._streams = None

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        try:
            return await asyncio.wait_for(
                self._exchange(method, path, json, headers), self._timeout
            )
        except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError) as exc:
            await self.close()
            raise TransportError(f"{type(exc).__name__}: {exc}") from exc

    async def _exchange(
        self, method: str, path: str, payload: Any, headers: dict[str, str] | None
    ) -> Reply:
        if self._streams is None:
            self._streams = await asyncio.open_connection(self._host, self._port)
        reader, writer = self._streams
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self._host}:{self._port}"]
        lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
        if self.cookies:
            lines.append("Cookie: " + "; ".join(f"{k}={v}" for k, v in self.cookies.items()))
        body = b""
        if payload is not None:
            body = json_module.dumps(payload).encode()
            lines.append("Content-Type: application/json")
        if body or method in {"POST", "PUT", "PATCH"}:
            lines.append(f"Content-Length: {len(body)}")
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        status = int(head[0].split(" ", 2)[1])
        reply_headers = []
        length = 0
        for line in head[1:]:
            if not line:
                continue
            name, _, value = line.partition(":")
            name, value = name.strip().lower(), value.strip()
            reply_headers.append((name, value))
            if name == "content-length":
                length = int(value)
            elif name == "set-cookie":
                self._keep_cookie(value)
            elif name == "connection" and value.lower() == "close":
                self._streams = None  # read this answer, then reconnect next time
        data = await reader.readexactly(length) if length else b""
        if self._streams is None:
            writer.close()
        return Reply(status, reply_headers, data)

    def _keep_cookie(self, header: str) -> None:
        pair, _, attributes = header.partition(";")
        name, _, value = pair.strip().partition("=")
        gone = "max-age=0" in attributes.lower().replace(" ", "") or not value.strip('"')
        if gone:
            self.cookies.pop(name, None)
        else:
            self.cookies[name] = value


# --- measuring -----------------------------------------------------------------------


@dataclass
class Tally:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    examples: list[str] = field(default_factory=list)
    flows: int = 0

    def error(self, step: str, what: str) -> None:
        self.errors[step] += 1
        if len(self.examples) < 10:
            self.examples.append(f"{step}: {what}")

    def all_latencies(self) -> list[float]:
        return [x for values in self.latencies.values() for x in values]

    def requests(self) -> int:
        return sum(len(v) for v in self.latencies.values())


def quantile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


class Step:
    """Time one request and check its answer; a failed check counts as an error."""

    def __init__(self, tally: Tally, name: str) -> None:
        self.tally = tally
        self.name = name

    async def __call__(
        self, client: LeanClient, method: str, path: str, expect: int, **kwargs: Any
    ) -> Reply | None:
        started = time.perf_counter()
        try:
            response = await client.request(method, path, **kwargs)
        except TransportError as exc:
            self.tally.error(self.name, f"{type(exc).__name__}: {exc}")
            return None
        self.tally.latencies[self.name].append(time.perf_counter() - started)
        if response.status_code != expect:
            self.tally.error(self.name, f"{response.status_code} {response.text[:120]}")
            return None
        return response


# --- the soak ------------------------------------------------------------------------


async def flow(client: LeanClient, tally: Tally, n: int) -> None:
    """One user's whole life: every answer is checked."""

    def step(name: str) -> Step:
        return Step(tally, name)

    def bad(name: str, what: str) -> None:
        tally.error(name, what)

    email = f"soak-{secrets.token_hex(6)}-{n}@example.com"
    credentials = {"email": email, "password": PASSWORD}
    client.cookies.clear()
    r = await step("register")(client, "POST", "/auth/register", 201, json=credentials)
    if r is None:
        return
    user_id = r.json()["id"]
    r = await step("session_login")(client, "POST", "/auth/session/login", 200, json=credentials)
    if r is None:
        return
    csrf = r.json()["csrf_token"]
    if r.json()["user"]["id"] != user_id:
        bad("session_login", "wrong user")
    r = await step("me_session")(client, "GET", "/auth/me", 200)
    me = {"id": user_id, "email": email, "auth": "session"}
    if r is not None and {key: r.json().get(key) for key in me} != me:
        bad("me_session", f"body {r.text[:120]}")
    r = await step("token_login")(client, "POST", "/auth/token", 200, json=credentials)
    if r is None:
        return
    tokens = r.json()
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    r = await step("me_jwt")(client, "GET", "/auth/me", 200, headers=bearer)
    if r is not None and r.json().get("auth") != "jwt":
        bad("me_jwt", f"body {r.text[:120]}")
    body = {"refresh_token": tokens["refresh_token"]}
    r = await step("refresh")(client, "POST", "/auth/token/refresh", 200, json=body)
    if r is None:
        return
    fresh = r.json()
    if fresh["refresh_token"] == tokens["refresh_token"]:
        bad("refresh", "refresh token not rotated")
    bearer = {"Authorization": f"Bearer {fresh['access_token']}"}
    await step("me_refreshed")(client, "GET", "/auth/me", 200, headers=bearer)
    logout = step("session_logout")
    await logout(client, "POST", "/auth/session/logout", 204, headers={"X-CSRF-Token": csrf})
    await step("me_after_logout")(client, "GET", "/auth/me", 401)
    await step("revoke")(client, "POST", "/auth/token/revoke", 204, headers=bearer)
    await step("me_after_revoke")(client, "GET", "/auth/me", 401, headers=bearer)
    tally.flows += 1


async def soak_client(base: str, n: int, state: dict[str, Any]) -> None:
    async with LeanClient(base) as client:
        while not state["stop"]:
            tally = state["tally"]
            try:
                await flow(client, tally, n)
            except Exception as exc:  # an answer of the wrong shape: an error, not a dead client
                tally.error("flow", f"{type(exc).__name__}: {exc}")


async def soak(args: argparse.Namespace, base: str, pid: int | None) -> int:
    warmup = Tally()
    state: dict[str, Any] = {"stop": False, "tally": warmup}
    clients = [asyncio.create_task(soak_client(base, n, state)) for n in range(args.clients)]
    print(f"warm-up {args.warmup}s with {args.clients} clients ...", flush=True)
    await asyncio.sleep(args.warmup)
    tally = state["tally"] = Tally()
    print(f"warm-up: {warmup.flows} flows, {sum(warmup.errors.values())} errors", flush=True)
    for example in warmup.examples:
        print(f"  {example}", flush=True)
    rss_start = rss_kib(pid) if pid else 0
    cpu_start = cpu_seconds(pid) if pid else 0.0
    started = time.monotonic()
    timeline: list[tuple[int, int]] = [(0, rss_start)]
    print(f"measuring {args.duration}s; RSS after warm-up {rss_start / 1024:.1f} MiB", flush=True)
    while (elapsed := time.monotonic() - started) < args.duration:
        await asyncio.sleep(min(30, args.duration - elapsed))
        if pid:
            timeline.append((round(time.monotonic() - started), rss_kib(pid)))
            print(
                f"  t={timeline[-1][0]}s flows={tally.flows} RSS={timeline[-1][1] / 1024:.1f} MiB"
            )
    wall = time.monotonic() - started
    state["stop"] = True
    cpu = (cpu_seconds(pid) - cpu_start) / wall if pid else float("nan")
    rss_end = rss_kib(pid) if pid else 0
    await asyncio.wait(clients, timeout=60)
    everything = tally.all_latencies()
    errors = sum(tally.errors.values())
    print()
    print(f"clients {args.clients}, measured {wall:.0f}s after {args.warmup}s warm-up")
    print(f"flows completed   {tally.flows} ({tally.flows / wall:.1f}/s)")
    print(f"requests          {tally.requests()} ({tally.requests() / wall:.0f}/s)")
    print(f"errors            {errors}")
    for example in tally.examples:
        print(f"  {example}")
    print(
        f"latency all       p50 {ms(quantile(everything, 0.5))}  "
        f"p99 {ms(quantile(everything, 0.99))}"
    )
    for name, values in tally.latencies.items():
        p50, p99 = ms(quantile(values, 0.5)), ms(quantile(values, 0.99))
        print(f"  {name:<16} p50 {p50:>9}  p99 {p99:>9}  n={len(values)}")
    growth = float("nan")
    if pid:
        growth = (rss_end - rss_start) / rss_start * 100
        print(f"server CPU        {cpu * 100:.0f}% of one core")
        print(
            f"server RSS        start {rss_start / 1024:.1f} MiB, end {rss_end / 1024:.1f} MiB "
            f"({growth:+.1f}%), peak {max(r for _, r in timeline) / 1024:.1f} MiB"
        )
    with contextlib.suppress(OSError):
        print(f"load average      {load_average()}")
    failed = errors > 0 or tally.flows == 0 or (pid is not None and abs(growth) > 10)
    print("RESULT", "FAIL" if failed else "PASS")
    return 1 if failed else 0


# --- the login storm -----------------------------------------------------------------


async def hammer_me(base: str, bearer: str, state: dict[str, Any], tally: Tally) -> None:
    headers = {"Authorization": f"Bearer {bearer}"}
    async with LeanClient(base) as client:
        me = Step(tally, "me")
        while not state["stop"]:
            await me(client, "GET", "/auth/me", 200, headers=headers)


async def hammer_login(base: str, emails: list[str], state: dict[str, Any], tally: Tally) -> None:
    async with LeanClient(base, timeout=120) as client:
        login = Step(tally, "login")
        while not state["stop"]:
            credentials = {"email": secrets.choice(emails), "password": PASSWORD}
            client.cookies.clear()
            await login(client, "POST", "/auth/session/login", 200, json=credentials)


async def measure_me(
    args: argparse.Namespace, base: str, pid: int | None, bearer: str, emails: list[str] | None
) -> tuple[Tally, Tally, float, float]:
    """Run /auth/me clients (and login clients, with `emails`) for the duration."""
    state: dict[str, Any] = {"stop": False}
    me_tally, login_tally = Tally(), Tally()
    tasks = [
        asyncio.create_task(hammer_me(base, bearer, state, me_tally)) for _ in range(args.clients)
    ]
    if emails:
        tasks += [
            asyncio.create_task(hammer_login(base, emails, state, login_tally))
            for _ in range(args.storm_clients)
        ]
    await asyncio.sleep(min(5.0, args.duration / 4))  # let the queues fill
    me_tally.latencies.clear()
    login_tally.latencies.clear()
    cpu_start, started = (cpu_seconds(pid) if pid else 0.0), time.monotonic()
    await asyncio.sleep(args.duration)
    wall = time.monotonic() - started
    cpu = (cpu_seconds(pid) - cpu_start) / wall if pid else float("nan")
    # What finished within the window; requests still in flight at its end are not counted.
    window_me, window_login = Tally(), Tally()
    window_me.latencies["me"] = me_tally.all_latencies()
    window_login.latencies["login"] = login_tally.all_latencies()
    state["stop"] = True
    await asyncio.wait(tasks, timeout=120)
    window_me.errors, window_me.examples = me_tally.errors, me_tally.examples
    window_login.errors, window_login.examples = login_tally.errors, login_tally.examples
    window_me.flows, window_login.flows = window_me.requests(), window_login.requests()
    return window_me, window_login, wall, cpu


async def storm(args: argparse.Namespace, base: str, pid: int | None) -> int:
    async with httpx.AsyncClient(base_url=base, timeout=120) as client:
        emails = [f"storm-{secrets.token_hex(4)}-{n}@example.com" for n in range(args.users)]
        for email in emails:
            r = await client.post("/auth/register", json={"email": email, "password": PASSWORD})
            r.raise_for_status()
        r = await client.post("/auth/token", json={"email": emails[0], "password": PASSWORD})
        r.raise_for_status()
        bearer = r.json()["access_token"]
    print(f"{args.users} users registered; /auth/me alone, {args.clients} clients ...", flush=True)
    alone, _, wall_a, cpu_a = await measure_me(args, base, pid, bearer, None)
    print(f"storm: {args.storm_clients} login clients + {args.clients} /auth/me ...", flush=True)
    stormy, logins, wall_s, cpu_s = await measure_me(args, base, pid, bearer, emails)
    a, s = alone.all_latencies(), stormy.all_latencies()
    a_rate, s_rate = alone.flows / wall_a, stormy.flows / wall_s
    print()
    print(f"{'':<22}{'alone':>12}{'login storm':>14}{'ratio':>8}")
    for label, q in (("/auth/me p50", 0.5), ("/auth/me p99", 0.99)):
        qa, qs = quantile(a, q), quantile(s, q)
        print(f"{label:<22}{ms(qa):>12}{ms(qs):>14}{qs / qa:>7.1f}x")
    print(f"{'/auth/me req/s':<22}{a_rate:>12.0f}{s_rate:>14.0f}{s_rate / a_rate:>7.2f}x")
    print(f"{'logins/s':<22}{'':>12}{logins.flows / wall_s:>14.1f}")
    login_lat = logins.all_latencies()
    print(
        f"{'login p50 / p99':<22}{'':>12}{ms(quantile(login_lat, 0.5)):>14} / "
        f"{ms(quantile(login_lat, 0.99))}"
    )
    print(f"{'server CPU':<22}{cpu_a * 100:>11.0f}%{cpu_s * 100:>13.0f}%")
    errors = sum(alone.errors.values()) + sum(stormy.errors.values()) + sum(logins.errors.values())
    print(f"errors {errors}")
    for example in alone.examples + stormy.examples + logins.examples:
        print(f"  {example}")
    with contextlib.suppress(OSError):
        print(f"load average {load_average()}")
    return 1 if errors else 0


# --- main ----------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def target(args: argparse.Namespace) -> AsyncIterator[tuple[str, int | None]]:
    if args.url:
        host = urlsplit(args.url).hostname or ""
        if host not in LOOPBACK:
            raise SystemExit("--url must point at this machine (127.0.0.1)")
        yield args.url.rstrip("/"), args.pid
        return
    with started_server(args) as (base, pid):
        yield base, pid


async def run(args: argparse.Namespace) -> int:
    async with target(args) as (base, pid):
        if args.mode == "soak":
            return await soak(args, base, pid)
        return await storm(args, base, pid)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mode", choices=["soak", "storm"])
    parser.add_argument("--clients", type=int, default=None, help="soak: 200; storm: 20")
    parser.add_argument("--duration", type=float, default=None, help="s (soak 600, storm 30)")
    parser.add_argument("--warmup", type=float, default=90, help="soak warm-up, seconds")
    parser.add_argument("--storm-clients", type=int, default=50, help="storm: login clients")
    parser.add_argument("--users", type=int, default=10, help="storm: accounts to log in to")
    parser.add_argument("--url", help="an already running server (127.0.0.1 only)")
    parser.add_argument("--pid", type=int, help="with --url: its process id, for RSS/CPU")
    parser.add_argument("--database-url", help="AUTHWARD_DATABASE_URL of the started server")
    parser.add_argument("--redis-url", help="AUTHWARD_REDIS_URL of the started server")
    parser.add_argument(
        "--argon2",
        choices=["real", "cheap"],
        default=None,
        help="argon2 cost of the started server (soak: cheap, storm: real = RFC 9106)",
    )
    parser.add_argument("--access-ttl", type=int, help="AUTHWARD_ACCESS_TTL, s (soak: 60)")
    parser.add_argument(
        "--serve-arg", action="append", default=[], help="extra `authward serve` argument"
    )
    args = parser.parse_args()
    storm_mode = args.mode == "storm"
    args.clients = args.clients or (20 if storm_mode else 200)
    args.duration = args.duration or (30.0 if storm_mode else 600.0)
    args.argon2 = args.argon2 or ("real" if storm_mode else "cheap")
    sys.exit(asyncio.run(run(args)))


if __name__ == "__main__":
    main()
