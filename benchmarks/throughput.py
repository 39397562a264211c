"""Target 1: a protected route at ≥ 0.80× a bare route of the same app when the endpoint
awaits the check, and at ≥ 0.90× of a dependency that checks nothing when it declares it
with ``Depends`` (what FastAPI's dependency machinery leaves is the floor there).

Each configuration is one server (one uvicorn worker, uvloop and httptools) and the
routes compared on it. authward's are the app of `apps.library_app` (your FastAPI app
with authward's ``current_user`` dependency) and `apps.service_app` (the service:
``/auth/me`` loads the user row); the peer's are fastapi-users' two backends
(`peers.py`). Credentials are made before the server starts (authward: straight through
a runtime on the same stores; fastapi-users: through its register and login routes).
"""

from __future__ import annotations

import asyncio
import json
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from loads import Comparison, Placement, Route, compare, server

from authward.cli.bench import Fixture, make_fixture
from authward.runtime import build_runtime
from authward.settings import Settings
from authward.web.transports import session_cookie_name

PEER_PASSWORD = "bench-peer-password-1"
FLOOR_ROUTE = "no-op Depends"
# The same current_user awaited inside the endpoint, not through Depends (apps.py).
DIRECT = "{route}, called directly"
# The bare route, sent the credential a protected route is sent. A browser sends its
# cookie to every route of the site, and reading a request that carries one costs
# FastAPI something (it parses the cookies for every route): against this baseline, a
# ratio is what authenticating costs, beyond what carrying the credential does.
CARRYING = "bare, carrying the {credential}"


# A route whose check hands over the user's record (authward's `current_account`;
# fastapi-users' `current_user`, which always loads the user), not only who called.
LOADS = "{route}, loads the user"
README = "the README's app (SQLite, default settings)"
README_NO_ACCOUNT_CACHE = "the README's app (SQLite, account cache off)"
README_WORKERS = "the README's app, --workers 2"
SERVICE = "authward service, GET /auth/me (SQLite, default settings)"
# The configurations figures.py reads by name.
DEFAULT_CONFIG = "authward library, JWT (EdDSA) + session, no settings (SQLite, its cache on)"
FLOOR_CONFIG = "FastAPI alone, a dependency that checks nothing"
SQLITE_NO_CACHE = "authward library, session (SQLite, no cache)"
REDIS_CACHED = "authward library, session (Redis, cache)"
REDIS_NO_CACHE = "authward library, session (Redis, no cache)"
PEER_JWT = "fastapi-users, JWTStrategy (HS256) + BearerTransport"
PEER_DB = "fastapi-users, DatabaseStrategy + CookieTransport"


def loads_user(route: str) -> bool:
    """Whether `route` hands over the user's record (a like-for-like peer of fastapi-users)."""
    return route.endswith(LOADS.split("}", 1)[1])


def is_baseline(route: str) -> bool:
    """Whether `route` is a baseline, not a target: the bare route sent a credential, or
    the no-op dependency (the floor under any Depends-based check)."""
    return route == FLOOR_ROUTE or route.startswith(CARRYING.split("{", 1)[0])


def carried_by(route: str) -> str:
    """The baseline route carrying what a target `route` is sent: its token or cookie."""
    return CARRYING.format(credential="token" if route.startswith("JWT") else "cookie")


@dataclass
class Config:
    """One server and the routes to compare on it; `protected` names the measured one."""

    name: str
    app: str  # a name `serve.py` knows
    env: dict[str, str]
    routes: Callable[[Credentials], list[Route]]
    target: bool = False  # counts toward target 1
    note: str = ""
    label: str = ""  # short, for the plots
    workers: int = 1  # uvicorn worker processes


@dataclass
class Credentials:
    bearer: dict[str, str] = field(default_factory=dict)
    cookie: dict[str, str] = field(default_factory=dict)


def authward_env(workdir: Path, **extra: str) -> dict[str, str]:
    """The settings every authward server of the run shares, plus `extra`."""
    return {
        "AUTHWARD_DATABASE_URL": f"sqlite:///{workdir}/authward.db",
        "AUTHWARD_KEY_FILE": str(workdir / "authward.key"),
        "AUTHWARD_ACCESS_TTL": "3600",  # tokens outlive the run
        "AUTHWARD_REVOCATION_POLL_INTERVAL": "1",
        **extra,
    }


def settings_of(env: dict[str, str]) -> Settings:
    values = {
        k.removeprefix("AUTHWARD_").lower(): v for k, v in env.items() if k.startswith("AUTHWARD_")
    }
    return Settings(**values)


def authward_credentials(env: dict[str, str]) -> Credentials:
    """A user with a live session and an access token, made in the stores of `env`."""
    settings = settings_of(env)

    async def make() -> Fixture:
        runtime = build_runtime(settings)
        await runtime.open(background=False)
        try:
            return await make_fixture(runtime)
        finally:
            await runtime.close()

    fixture = asyncio.run(make())
    return Credentials(
        bearer={"Authorization": f"Bearer {fixture.access_token}"},
        cookie={"Cookie": f"{session_cookie_name(settings)}={fixture.session_id}"},
    )


def peer_credentials(url: str, app: str) -> Credentials:
    """Register through fastapi-users' own route, then log in with its backend."""
    email = "peer@bench.example.com"
    body = json.dumps({"email": email, "password": PEER_PASSWORD}).encode()
    request = urllib.request.Request(  # noqa: S310 - our own server on 127.0.0.1
        url + "/auth/register", body, {"Content-Type": "application/json"}
    )
    try:
        urllib.request.urlopen(request, timeout=30).close()  # noqa: S310 - http://127.0.0.1
    except urllib.error.HTTPError as exc:
        if exc.code != 400:  # 400: already registered by an earlier configuration
            raise
    form = urllib.parse.urlencode({"username": email, "password": PEER_PASSWORD}).encode()
    with urllib.request.urlopen(url + "/auth/login/login", form, timeout=30) as answer:  # noqa: S310
        if app == "fastapi-users-jwt":
            token = json.load(answer)["access_token"]
            return Credentials(bearer={"Authorization": f"Bearer {token}"})
        cookie = answer.headers["set-cookie"].split(";", 1)[0]
        return Credentials(cookie={"Cookie": cookie})


def target_one_routes(c: Credentials, protected: str) -> list[Route]:
    """Target 1 on an app whose check stands at `protected`: both forms, both credentials,
    and the Depends floor measured on the same server."""
    return [
        Route("bare", "/bench/bare"),
        Route("JWT", protected, c.bearer),
        Route("session", protected, c.cookie),
        Route(DIRECT.format(route="JWT"), "/bench/direct", c.bearer),
        Route(DIRECT.format(route="session"), "/bench/direct", c.cookie),
        Route(FLOOR_ROUTE, "/bench/noop", c.cookie),
    ]


def readme_routes(c: Credentials) -> list[Route]:
    """Target 1 on the README's app, its check at ``/notes``."""
    return target_one_routes(c, "/notes")


def default_routes(c: Credentials) -> list[Route]:
    """Target 1 on the library app, and the bare route carrying each credential."""
    return [
        *target_one_routes(c, "/bench/protected"),
        Route(CARRYING.format(credential="token"), "/bench/bare", c.bearer),
        Route(CARRYING.format(credential="cookie"), "/bench/bare", c.cookie),
    ]


def configs(workdir: Path, redis_url: str | None, cache_ttl: str) -> list[Config]:
    cached = {"AUTHWARD_SESSION_CACHE_TTL": cache_ttl}
    bare = Route("bare", "/bench/bare")
    out = [
        Config(
            DEFAULT_CONFIG,
            "authward-library",
            authward_env(workdir),
            default_routes,
            target=True,
            note="the embedded default: the session cache on (5 s), revocations pushed "
            "between the processes on the SQLite file",
            label="authward\n{route}\n(defaults)",
        ),
        Config(
            README_WORKERS,
            "authward-readme",
            authward_env(workdir),
            readme_routes,
            target=True,
            note="two uvicorn workers on one SQLite file, default settings",
            label="README app\n{route}\n(2 workers)",
            workers=2,
        ),
        Config(
            FLOOR_CONFIG,
            "authward-library",
            authward_env(workdir),
            lambda c: [bare, Route(FLOOR_ROUTE, "/bench/noop")],
            note="the floor under any Depends-based check",
            label="FastAPI\nno-op Depends",
        ),
        Config(
            README,
            "authward-readme",
            authward_env(workdir),
            lambda c: [
                *readme_routes(c),
                Route(LOADS.format(route="JWT"), "/bench/account", c.bearer),
                Route(LOADS.format(route="session"), "/bench/account", c.cookie),
            ],
            target=True,
            note="default settings: the session cache on (5 s), revocations pushed between "
            "the processes on the SQLite file; the account cache on (30 s)",
            label="README app\n{route}",
        ),
        Config(
            README_NO_ACCOUNT_CACHE,
            "authward-readme",
            authward_env(workdir, AUTHWARD_ACCOUNT_CACHE_TTL="0"),
            lambda c: [
                bare,
                Route(LOADS.format(route="JWT"), "/bench/account", c.bearer),
                Route(LOADS.format(route="session"), "/bench/account", c.cookie),
            ],
            note="AUTHWARD_ACCOUNT_CACHE_TTL=0: the user row is read on every request",
            label="README app, no account cache\n{route}",
        ),
        Config(
            SQLITE_NO_CACHE,
            "authward-library",
            authward_env(workdir, AUTHWARD_SESSION_CACHE_TTL="0"),
            lambda c: [bare, Route("session", "/bench/protected", c.cookie)],
            label="authward\n{route}\n(SQLite, no cache)",
        ),
    ]
    if redis_url is not None:
        redis = {"AUTHWARD_REDIS_URL": redis_url}
        out += [
            Config(
                REDIS_CACHED,
                "authward-library",
                authward_env(workdir, **redis, **cached),
                lambda c: [
                    bare,
                    Route("session", "/bench/protected", c.cookie),
                    Route(DIRECT.format(route="session"), "/bench/direct", c.cookie),
                    Route(FLOOR_ROUTE, "/bench/noop", c.cookie),
                    Route(CARRYING.format(credential="cookie"), "/bench/bare", c.cookie),
                ],
                target=True,
                note=f"AUTHWARD_SESSION_CACHE_TTL={cache_ttl}",
                label="authward\n{route}\n(Redis, cache)",
            ),
            Config(
                REDIS_NO_CACHE,
                "authward-library",
                # Said outright: with Redis the bus pushes, so unset means a 5 s cache.
                authward_env(workdir, **redis, AUTHWARD_SESSION_CACHE_TTL="0"),
                lambda c: [bare, Route("session", "/bench/protected", c.cookie)],
                note="AUTHWARD_SESSION_CACHE_TTL=0: every session check reads Redis",
                label="authward\n{route}\n(Redis, no cache)",
            ),
        ]
    out += [
        Config(
            SERVICE,
            "authward-service",
            authward_env(workdir),
            lambda c: [
                bare,
                Route("/auth/me JWT", "/auth/me", c.bearer),
                Route("/auth/me session", "/auth/me", c.cookie),
            ],
            note="default settings: the session and account caches on",
            label="service\n{route}",
        ),
        Config(
            PEER_JWT,
            "fastapi-users-jwt",
            {"BENCH_PEER_DATABASE": str(workdir / "peer.db")},
            lambda c: [bare, Route(LOADS.format(route="JWT"), "/bench/protected", c.bearer)],
            label="fastapi-users\n{route}",
        ),
        Config(
            PEER_DB,
            "fastapi-users-db",
            {"BENCH_PEER_DATABASE": str(workdir / "peer.db")},
            lambda c: [
                bare,
                Route(LOADS.format(route="database token"), "/bench/protected", c.cookie),
            ],
            label="fastapi-users\n{route}",
        ),
    ]
    return out


@dataclass
class HttpResult:
    config: Config
    comparison: Comparison

    def rows(self) -> list[dict[str, object]]:
        """One row per protected route: its figures beside the bare route's."""
        cmp = self.comparison
        bare = cmp.median("bare")
        rows: list[dict[str, object]] = []
        for route in cmp.routes:
            if route == "bare":
                continue
            run = cmp.median(route)
            rows.append(
                {
                    "config": self.config.name,
                    "label": self.config.label.format(route=route),
                    "route": route,
                    "target": self.config.target
                    and not is_baseline(route)
                    and not loads_user(route),
                    "note": self.config.note,
                    "bare_rps": cmp.rps("bare"),
                    "rps": cmp.rps(route),
                    "ratio": cmp.ratio(route, "bare"),
                    "added_us": cmp.added_us(route, "bare"),
                    "bare_cpu_us": cmp.cpu_per_request("bare"),
                    "cpu_us": cmp.cpu_per_request(route),
                    "cpu_ratio": cmp.cpu_ratio(route, "bare"),
                    "bare_p50_ms": bare.p50_ms,
                    "bare_p99_ms": bare.p99_ms,
                    "p50_ms": run.p50_ms,
                    "p99_ms": run.p99_ms,
                    "errors": run.errors,
                    "rounds": [
                        [b.rps, r.rps]
                        for b, r in zip(cmp.runs["bare"], cmp.runs[route], strict=True)
                    ],
                }
            )
        return rows


def run_config(
    config: Config,
    workdir: Path,
    placement: Placement,
    *,
    rounds: int,
    seconds: float,
    connections: int,
    tick: Callable[[], None],
) -> HttpResult:
    credentials = None
    if config.app.startswith("authward"):
        credentials = authward_credentials(config.env)
    with server(config.app, config.env, workdir, cpu=placement.server, workers=config.workers) as (
        url,
        process,
    ):
        if credentials is None:
            credentials = peer_credentials(url, config.app)
        comparison = compare(
            config.name,
            url,
            config.routes(credentials),
            rounds=rounds,
            seconds=seconds,
            connections=connections,
            placement=placement,
            server_pid=process.pid,
            tick=tick,
        )
    return HttpResult(config, comparison)
