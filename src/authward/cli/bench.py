"""``authward bench``: what authentication costs on this machine, with these settings.

Each figure stands beside a baseline measured in the same run:

* token verification per algorithm, µs per token: first seen (parse, signature, claims,
  revocation) and seen before (the cache of verified tokens), beside PyJWT's
  ``jwt.decode`` with the same key and the same checks;
* a session check (`SessionService.resume`, one store read) and a login (one argon2id
  verification at the configured parameters);
* ``GET /auth/me``, a route behind ``Depends(auth.current_user)`` and one that awaits
  ``auth.current_user(request)`` itself (see docs/library.md), beside a bare route of
  the same app, in requests per second over HTTP (uvicorn, one worker), driven by
  ``wrk`` when it is on the PATH, else by a small Python load generator, which tires
  before the server does: its ratios understate the bare route, so read them as bounds.

Every setting comes from ``AUTHWARD_*`` as for ``authward serve``, but the database is a
scratch SQLite file unless ``--database-url`` names one: then a throwaway user, session
and token family are made there, and disabled, ended and revoked at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import anyio
import jwt
from fastapi import Depends, FastAPI, Request
from pydantic import SecretStr
from rich.table import Table

from authward import crypto
from authward.accounts.models import User
from authward.cli.context import console, settings_or_exit
from authward.cli.loadgen import Load, cpus, free_port, load, median_load, on_cpu, python_load
from authward.clock import SystemClock
from authward.errors import InvalidCredentials
from authward.ids import Device
from authward.integration import AuthUser, Authward
from authward.masterkey import load_master_secret
from authward.runtime import Runtime, build_runtime, build_tokens
from authward.settings import Algorithm, Settings, load_settings
from authward.tokens.service import TokenService
from authward.web.app import create_app
from authward.web.transports import session_cookie_name

ALGORITHMS: Final[tuple[Algorithm, ...]] = ("EdDSA", "ES256", "RS256", "HS256")
BARE, PROTECTED, DIRECT, ME = "/bench/bare", "/bench/protected", "/bench/direct", "/auth/me"
# An HS256 key for the verification figures of the other algorithms' runs: never a
# deployment's key (with HS256 configured, the configured secret is used).
_STAND_IN_SECRET: Final = secrets.token_urlsafe(48)

_UNUSABLE_HASH: Final = "!"  # not an argon2 hash: matches no password, nobody logs in as it

Op = Callable[[], object]


# --- timing ---------------------------------------------------------------------------


def per_call_us(op: Op, *, seconds: float, rounds: int = 5) -> float:
    """Median µs per call of `op` over `rounds` loops of about `seconds` in all."""
    number, start = 1, time.perf_counter()
    while time.perf_counter() - start < seconds / (rounds * 10):
        op()
        number += 1
    samples = []
    for _ in range(rounds):
        began = time.perf_counter()
        for _ in range(number):
            op()
        samples.append((time.perf_counter() - began) / number * 1e6)
    return statistics.median(samples)


async def per_await_us(op: Callable[[], Awaitable[object]], *, count: int) -> float:
    """Median µs per await of `op` (wall time: a store's own time counts)."""
    samples = []
    for _ in range(count):
        began = time.perf_counter()
        await op()
        samples.append((time.perf_counter() - began) * 1e6)
    return statistics.median(samples)


# --- token verification ---------------------------------------------------------------


async def open_token_service(settings: Settings, alg: Algorithm) -> TokenService:
    """A TokenService for `alg` on memory stores (nothing persisted), opened."""
    overrides: dict[str, Any] = {"jwt_alg": alg}
    if alg == "HS256" and settings.jwt_alg != "HS256":
        overrides["secret_key"] = SecretStr(_STAND_IN_SECRET)
    configured = settings.model_copy(update=overrides)
    service = build_tokens(configured, load_master_secret(configured), None, SystemClock())
    await service.open(background=False)
    return service


def issue_token(service: TokenService) -> str:
    now = datetime.now(UTC)
    # Ids of the shapes authward mints: verification refuses a token whose claims are not.
    user_id, family_id = crypto.new_user_id(), crypto.new_handle()
    token, _ = service.access.issue(user_id, family_id, now, now + timedelta(days=1))
    return token


def verify_ops(service: TokenService, token: str) -> dict[str, Op]:
    """authward's two paths and PyJWT's, each checking what the others check."""
    key = service.ring.verifying_key(jwt.get_unverified_header(token)["kid"], datetime.now(UTC))
    if key is None:
        raise RuntimeError("the token's key does not verify")
    settings = service.settings
    client_id = settings.client_id or settings.audience
    options: Any = {"require": ["iss", "aud", "sub", "iat", "exp", "jti", "sid", "client_id"]}

    def first_seen() -> object:
        service.access.forget()  # an empty cache: this token was never seen
        return service.verify(token)

    def pyjwt() -> object:
        decoded = jwt.decode_complete(
            token,
            key.material,
            algorithms=[key.alg],
            audience=settings.audience,
            issuer=settings.issuer,
            options=options,
        )
        if decoded["header"].get("typ") != "at+jwt":
            raise jwt.InvalidTokenError("typ")
        if decoded["payload"]["client_id"] != client_id:  # PyJWT knows no client_id
            raise jwt.InvalidTokenError("client_id")
        return decoded

    return {"first seen": first_seen, "seen before": lambda: service.verify(token), "PyJWT": pyjwt}


async def verify_figures(settings: Settings, seconds: float) -> list[tuple[str, dict[str, float]]]:
    rows: list[tuple[str, dict[str, float]]] = []
    for alg in ALGORITHMS:
        service = await open_token_service(settings, alg)
        ops = verify_ops(service, issue_token(service))
        rows.append((alg, {name: per_call_us(op, seconds=seconds) for name, op in ops.items()}))
        await service.close()
    return rows


# --- sessions and logins --------------------------------------------------------------


@dataclass
class Fixture:
    """A throwaway user with a live session and a token, to measure with and remove."""

    user: User
    session_id: str
    access_token: str


async def make_fixture(runtime: Runtime) -> Fixture:
    user = User(
        id=crypto.new_user_id(),
        email=f"bench-{secrets.token_hex(6)}@authward-bench.example",
        password_hash=_UNUSABLE_HASH,
        created_at=runtime.clock.now(),
    )
    await runtime.accounts.users.add(user)
    started = await runtime.sessions.start(user.id, Device.of("authward bench", "127.0.0.1"))
    pair = await runtime.tokens.issue(user.id, Device.of("authward bench", "127.0.0.1"))
    return Fixture(user, started.session_id, pair.access_token)


async def remove_fixture(runtime: Runtime, fixture: Fixture) -> None:
    await runtime.lifecycle.disable(fixture.user.id)


async def session_and_login_figures(
    runtime: Runtime, fixture: Fixture, count: int, logins: int
) -> dict[str, float]:
    """µs per session check (what a request pays, through the cache if one is on) and ms
    per login (one argon2id verification), medians."""
    check = await per_await_us(lambda: runtime.sessions.resume(fixture.session_id), count=count)

    async def login() -> None:
        with contextlib.suppress(InvalidCredentials):  # the wrong password is the point
            await runtime.hasher.verify(None, "not the password")

    login_us = await per_await_us(login, count=logins)
    return {"session check µs": check, "login ms": login_us / 1e3}


# --- HTTP -----------------------------------------------------------------------------


async def _bare() -> dict[str, str]:
    return {"id": "anonymous"}


def bench_app() -> FastAPI:
    """The service as `authward serve` runs it, with a bare route and `Authward.current_user`
    in both of its forms (what an app of your own would use)."""
    runtime = build_runtime(load_settings())
    app = create_app(runtime)
    auth = Authward.from_runtime(runtime)

    async def protected(user: AuthUser = Depends(auth.current_user)) -> dict[str, str]:  # noqa: B008
        return {"id": user.id}

    async def direct(request: Request) -> dict[str, str]:
        user = await auth.current_user(request)
        return {"id": user.id}

    app.add_api_route(BARE, _bare, include_in_schema=False)
    app.add_api_route(PROTECTED, protected, include_in_schema=False)
    app.add_api_route(DIRECT, direct, include_in_schema=False)
    return app


@contextlib.contextmanager
def running_server(
    env: dict[str, str], *, app: str = "authward.cli.bench:bench_app", cpu: int | None = None
) -> Iterator[str]:
    """Run `app` under uvicorn in a child process until the block ends; yield its URL."""
    port = free_port()
    command = [
        sys.executable, "-m", "uvicorn", app, "--factory", "--host", "127.0.0.1",
        "--port", str(port), "--no-access-log", "--log-level", "warning", "--no-server-header",
    ]  # fmt: skip
    process = subprocess.Popen(command, env={**os.environ, **env}, preexec_fn=on_cpu(cpu))  # noqa: S603
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(url + BARE, process)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_for(url: str, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with status {process.returncode}")
        with contextlib.suppress(OSError):
            if asyncio.run(python_load(url, {}, 0.01, 1)).requests:
                return
        time.sleep(0.2)
    raise RuntimeError("the server did not start")


def http_figures(
    settings: Settings, env: dict[str, str], fixture: Fixture, *, seconds: float, rounds: int
) -> dict[str, Load]:
    """Requests per second of each route, the routes taking turns round after round."""
    usable = cpus()
    server_cpu, load_cpu = (usable[0], usable[1]) if len(usable) >= 2 else (None, None)
    bearer = {"Authorization": f"Bearer {fixture.access_token}"}
    cookie = {"Cookie": f"{session_cookie_name(settings)}={fixture.session_id}"}
    cases = {
        "bare": (BARE, {}),
        "current_user, token": (PROTECTED, bearer),
        "current_user, session": (PROTECTED, cookie),
        "current_user awaited, token": (DIRECT, bearer),
        "current_user awaited, session": (DIRECT, cookie),
        "/auth/me, token": (ME, bearer),
        "/auth/me, session": (ME, cookie),
    }
    runs: dict[str, list[Load]] = {name: [] for name in cases}
    with running_server(env, cpu=server_cpu) as url:
        load(url + BARE, {}, seconds=min(1.0, seconds), connections=16, cpu=load_cpu)  # warm-up
        for _ in range(rounds):
            for name, (path, headers) in cases.items():
                runs[name].append(
                    load(url + path, headers, seconds=seconds, connections=16, cpu=load_cpu)
                )
    return {name: median_load(loads) for name, loads in runs.items()}


# --- the command ----------------------------------------------------------------------


def bench(*, quick: bool, http: bool, database_url: str | None) -> None:
    """`authward bench` (its options: authward.cli.bench_command)."""
    settings = settings_or_exit()
    with tempfile.TemporaryDirectory(prefix="authward-bench-") as scratch:
        env = {
            "AUTHWARD_DATABASE_URL": database_url or f"sqlite:///{Path(scratch) / 'bench.db'}",
            # A database of theirs holds keys sealed under their master secret: keep it.
            "AUTHWARD_KEY_FILE": settings.key_file
            if settings.secret_key is not None or database_url is not None
            else str(Path(scratch) / "authward.key"),
        }
        configured = settings.model_copy(
            update={
                "database_url": env["AUTHWARD_DATABASE_URL"],
                "key_file": env["AUTHWARD_KEY_FILE"],
            }
        )
        report = anyio.run(_measure, configured, env, quick, http)
    print_report(settings, report)


@dataclass
class Report:
    verify: list[tuple[str, dict[str, float]]]
    checks: dict[str, float]
    loads: dict[str, Load]


async def _measure(settings: Settings, env: dict[str, str], quick: bool, http: bool) -> Report:
    seconds = 0.05 if quick else 1.0
    verify = await verify_figures(settings, seconds)
    runtime = build_runtime(settings)
    await runtime.open(background=False)
    try:
        fixture = await make_fixture(runtime)
        try:
            checks = await session_and_login_figures(
                runtime, fixture, 50 if quick else 2000, 1 if quick else 3
            )
            checks["session cache s"] = runtime.session_cache_ttl
            loads: dict[str, Load] = {}
            if http:
                loads = await anyio.to_thread.run_sync(
                    lambda: http_figures(
                        settings,
                        env,
                        fixture,
                        seconds=1.0 if quick else 3.0,
                        rounds=1 if quick else 3,
                    )
                )
        finally:
            await remove_fixture(runtime, fixture)
    finally:
        await runtime.close()
    return Report(verify, checks, loads)


def print_report(settings: Settings, report: Report) -> None:
    table = Table(title="Token verification, µs per token (median)", title_justify="left")
    for column in ("algorithm", "first seen", "seen before", "PyJWT", "first seen / PyJWT"):
        table.add_column(column, justify="left" if column == "algorithm" else "right")
    for alg, figures in report.verify:
        mark = " (configured)" if alg == settings.jwt_alg else ""
        table.add_row(
            alg + mark,
            f"{figures['first seen']:.1f}",
            f"{figures['seen before']:.2f}",
            f"{figures['PyJWT']:.1f}",
            f"{figures['first seen'] / figures['PyJWT']:.2f}×",
        )
    console.print(table)
    cache = report.checks.get("session cache s", 0.0)
    how = f"the node's cache, TTL {cache:g} s" if cache > 0 else "one store read"
    console.print(
        f"Session check ({how}): {report.checks['session check µs']:.0f} µs; "
        f"login (argon2id t={settings.argon2_time_cost}, m={settings.argon2_memory_kib} KiB, "
        f"p={settings.argon2_parallelism}): {report.checks['login ms']:.0f} ms",
        highlight=False,
    )
    if not report.loads:
        return
    bare = report.loads["bare"]
    table = Table(title=f"HTTP, one uvicorn worker, load by {bare.tool}", title_justify="left")
    for column in ("route", "req/s", "× bare", "p50 ms", "p99 ms", "errors"):
        table.add_column(column, justify="left" if column == "route" else "right")
    for name, run in report.loads.items():
        table.add_row(
            name,
            f"{run.rps:,.0f}",
            f"{run.rps / bare.rps:.2f}" if bare.rps else "-",
            f"{run.p50_ms:.2f}",
            f"{run.p99_ms:.2f}",
            str(run.errors),
        )
    console.print(table)
