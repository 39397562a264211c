"""What authentication costs inside one process, without a server or a network.

    .venv-bench/bin/python benchmarks/hotpath.py            # 40 rounds
    .venv-bench/bin/python benchmarks/hotpath.py --rounds 10

Two views of the same cached credential (a token seen before, a session in the node's
cache; SQLite with no other settings, as `make bench`'s first configuration: the
session cache is on by default there, since revocations reach the other processes on the
file at once):

* **the call**: ``await auth.current_user(request)`` against a dependency that checks
  nothing, both handed a ready Request: authward's own work, nothing else;
* **the app**: a whole request through the library app of `apps.py` (ASGI, no server):
  the bare route, the protected route (``Depends``), the same check awaited in the
  endpoint, and the no-op ``Depends`` with the same headers; and the bare route of a
  plain FastAPI app with no authward routes before it (what an app's own route declared
  after ``include_router(auth.router)`` pays for walking past them: `GatedRouter`).

Every case runs a batch in turn, round after round, and each figure is the median over
rounds, so a machine whose speed drifts moves all of them alike. The gap between the
two views is what the same work costs once the rest of a request has been through the
CPU's caches: on the machine of the 2026-12-05 notes, about twice the call's cost.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from starlette.requests import Request
from starlette.types import Message, Scope

sys.path.insert(0, str(Path(__file__).resolve().parent))

BATCH = 1000

Case = Callable[[], Awaitable[Any]]


def settings_env(workdir: Path) -> dict[str, str]:
    return {
        "AUTHWARD_DATABASE_URL": f"sqlite:///{workdir}/authward.db",
        "AUTHWARD_KEY_FILE": str(workdir / "authward.key"),
        "AUTHWARD_ACCESS_TTL": "3600",
        "AUTHWARD_REVOCATION_POLL_INTERVAL": "1",
    }


async def receive() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


async def send(message: Message) -> None:
    if message["type"] == "http.response.start" and message["status"] != 200:
        raise RuntimeError(f"answered {message['status']}")


def http_scope(app: object, path: str, headers: list[tuple[bytes, bytes]]) -> Scope:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1"), (b"user-agent", b"hotpath"), *headers],
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8000),
        "state": {},
        "app": app,
    }


async def measure(
    cases: dict[str, Case],
    rounds: int,
    *,
    clock: Callable[[], float] = time.perf_counter,
    batch: int = BATCH,
    pause: float = 0.0,
) -> dict[str, list[float]]:
    """µs per call of each case by `clock`, one figure a round; the cases take turns."""
    runs: dict[str, list[float]] = {name: [] for name in cases}
    names = list(cases)
    for round_no in range(rounds):
        # Each round starts with another case, so none always runs first (or last).
        shift = round_no % len(names)
        for name in names[shift:] + names[:shift]:
            case = cases[name]
            started = clock()
            for _ in range(batch):
                await case()
            runs[name].append((clock() - started) / batch * 1e6)
        await asyncio.sleep(pause)  # let the revocation feed poll: a stale one answers 503
    return runs


def over(runs: dict[str, list[float]], name: str, baseline: str) -> float:
    """Median per-round difference, µs."""
    return statistics.median(a - b for a, b in zip(runs[name], runs[baseline], strict=True))


def ratio(runs: dict[str, list[float]], name: str, baseline: str) -> float:
    """Median per-round ratio of throughputs (baseline time over this case's time)."""
    return statistics.median(b / a for a, b in zip(runs[name], runs[baseline], strict=True))


async def main(rounds: int) -> None:
    import apps

    from authward.cli.bench import make_fixture
    from authward.web.transports import session_cookie_name

    app = apps.library_app()
    auth = app.state.authward
    async with auth.lifespan(app):
        fixture = await make_fixture(auth.runtime)
        cookie_value = f"{session_cookie_name(auth.settings)}={fixture.session_id}"
        bearer = [(b"authorization", f"Bearer {fixture.access_token}".encode())]
        cookie = [(b"cookie", cookie_value.encode())]
        current_user = auth.current_user

        def request(headers: list[tuple[bytes, bytes]]) -> Request:
            return Request(http_scope(app, "/", headers))

        def through_app_of(asgi: Any, path: str, headers: list[tuple[bytes, bytes]]) -> Case:
            return lambda: asgi(http_scope(asgi, path, headers), receive, send)

        def through_app(path: str, headers: list[tuple[bytes, bytes]]) -> Case:
            return through_app_of(app, path, headers)

        plain = FastAPI()  # a bare route with no authward routes declared before it

        @plain.get("/bench/bare")
        async def plain_bare() -> dict[str, str]:
            return apps.BARE_BODY

        ungated = apps.library_app()  # the same app as before GatedRouter: every path walks in
        ungated.state.authward.router.gate = ("/",)

        cases: dict[str, Case] = {
            "call: no-op": lambda: apps.nobody(request(bearer)),
            "plain app: bare": through_app_of(plain, "/bench/bare", []),
            "plain app: bare, ungated authward first": through_app_of(ungated, "/bench/bare", []),
            "call: token": lambda: current_user(request(bearer)),
            "call: session": lambda: current_user(request(cookie)),
            "app: bare": through_app("/bench/bare", []),
            "app: no-op Depends, token header": through_app("/bench/noop", bearer),
            "app: no-op Depends, cookie": through_app("/bench/noop", cookie),
            "app: token, Depends": through_app("/bench/protected", bearer),
            "app: session, Depends": through_app("/bench/protected", cookie),
            "app: token, called directly": through_app("/bench/direct", bearer),
            "app: session, called directly": through_app("/bench/direct", cookie),
        }
        runs = await measure(cases, rounds)
    print(f"{rounds} rounds of {BATCH} calls each; medians over rounds\n")
    print(f"{'case':36} {'µs':>8} {'over baseline':>14} {'× bare':>8}")
    for name, times in runs.items():
        baseline = "call: no-op" if name.startswith("call") else "app: bare"
        if name.startswith("plain"):
            baseline = "plain app: bare"
        extra = f"{over(runs, name, baseline):+.2f}" if name != baseline else ""
        share = f"{ratio(runs, name, 'app: bare'):.3f}" if name.startswith(("app", "plain")) else ""
        print(f"{name:36} {statistics.median(times):8.2f} {extra:>14} {share:>8}")
    print(
        "\nauthward's own share, the call against the app:\n"
        f"  token:   {over(runs, 'call: token', 'call: no-op'):.2f} µs called, "
        f"{over(runs, 'app: token, Depends', 'app: no-op Depends, token header'):.2f} µs "
        "in the app (Depends, over the no-op Depends with the same header)\n"
        f"  session: {over(runs, 'call: session', 'call: no-op'):.2f} µs called, "
        f"{over(runs, 'app: session, Depends', 'app: no-op Depends, cookie'):.2f} µs in the app"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        os.environ.update(settings_env(Path(workdir)))
        asyncio.run(main(args.rounds))
