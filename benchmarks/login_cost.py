"""What a login costs besides its hash: CPU per login with argon2id at its cheapest.

With t=1, 8 KiB, p=1 a hash is a fraction of a millisecond, so what is left of a login's
CPU time is the rest of it: the throttle's count, the user's row, the second-factor
check, the session or the token family, the events, the answer. In one process, through
the ASGI app (httpx's ASGITransport, whose client side counts too, alike for every
build), on SQLite; also the SQL statements and commits one login makes. Less sensitive
to the machine's load than `login_floor.py`, since it counts CPU time, not rates: run it
on two builds in turn to compare them.

    .venv/bin/python benchmarks/login_cost.py               # 300 logins per route
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path

import httpx
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

sys.path.insert(0, str(Path(__file__).resolve().parent))

from login_floor import EMAIL, PASSWORD, ROUTES, THROTTLES  # noqa: E402
from throughput import authward_env, settings_of  # noqa: E402

from authward.runtime import build_runtime  # noqa: E402
from authward.web.app import create_app  # noqa: E402

CHEAP_ARGON2 = {
    "AUTHWARD_ARGON2_TIME_COST": "1",
    "AUTHWARD_ARGON2_MEMORY_KIB": "8",
    "AUTHWARD_ARGON2_PARALLELISM": "1",
}


async def measure(workdir: Path, logins: int) -> list[str]:
    env = authward_env(workdir, **THROTTLES, **CHEAP_ARGON2, AUTHWARD_INSECURE_COOKIES="1")
    runtime = build_runtime(settings_of(env))
    await runtime.open(background=False)
    lines = []
    try:
        await runtime.accounts.register(EMAIL, PASSWORD)
        app = create_app(runtime, open_runtime=False)
        body = {"email": EMAIL, "password": PASSWORD}
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:

            async def log_in(route: str) -> None:
                answer = await client.post(route, json=body)
                answer.raise_for_status()
                client.cookies.clear()  # each login a new client: no session to end first

            for name, route in ROUTES.items():
                for _ in range(30):  # warm-up; the session limit filled
                    await log_in(route)
                statements, commits = await _count_sql(runtime.engine, partial(log_in, route))
                began = time.process_time()
                for _ in range(logins):
                    await log_in(route)
                cpu_ms = (time.process_time() - began) / logins * 1e3
                lines.append(
                    f"{name} login: {cpu_ms:.2f} ms CPU per login (every thread), "
                    f"{statements} SQL statements, {commits} commits"
                )
    finally:
        await runtime.close()
    lines.append(f"load {os.getloadavg()[0]:.2f}")
    return lines


async def _count_sql(engine: AsyncEngine, login: Callable[[], Awaitable[None]]) -> tuple[int, int]:
    counts = {"statements": 0, "commits": 0}

    def statement(*_: object) -> None:
        counts["statements"] += 1

    def commit(*_: object) -> None:
        counts["commits"] += 1

    sync = engine.sync_engine
    event.listen(sync, "before_cursor_execute", statement)
    event.listen(sync, "commit", commit)
    try:
        await login()
        await asyncio.sleep(0.2)  # what the answer left running (events) ends too
    finally:
        event.remove(sync, "before_cursor_execute", statement)
        event.remove(sync, "commit", commit)
    return counts["statements"], counts["commits"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--logins", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="authward-login-cost-") as tmp:
        print("\n".join(asyncio.run(measure(Path(tmp), args.logins))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
