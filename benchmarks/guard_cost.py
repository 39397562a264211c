"""What declaring authward's dependencies as OpenAPI security schemes costs a request.

    .venv/bin/python benchmarks/guard_cost.py

The same check (one that does nothing) behind three dependencies: a plain async function
(what authward's dependencies were), a `Guard` with one scheme (`token_user`,
`session_user`, any dependency of a one-strategy app), and a `Guard` with both schemes
(`current_user` and the like with sessions and tokens), which solves one more, empty,
dependency. Counted in Python function calls per request (cProfile), which a loaded
machine does not blur as it blurs time, and timed too (median µs over rounds, in turn).
"""

# No ``from __future__ import annotations``: FastAPI reads the endpoint's annotation,
# which names a local, when the route is made.
import asyncio
import cProfile
import pstats
import statistics
import time
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from starlette.types import Message, Scope

from authward.web.security import Guard

ROUNDS = 15
BATCH = 2000


async def check(request: Request) -> int:
    return 1


one_scheme = Guard(check, {"jwt"})
two_schemes = Guard(check, {"jwt", "session"})


def app_with(dependency: object) -> FastAPI:
    """An app of one route behind `dependency`: routing costs every case alike."""
    app = FastAPI()

    async def endpoint(user: Annotated[int, Depends(dependency)]) -> None:
        return None

    app.get("/x")(endpoint)
    return app


APPS = {
    "plain function": app_with(check),
    "Guard, one scheme": app_with(one_scheme),
    "Guard, two schemes": app_with(two_schemes),
}


async def receive() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


async def send(message: Message) -> None:
    if message["type"] == "http.response.start" and message["status"] != 200:
        raise RuntimeError(f"answered {message['status']}")


def scope() -> Scope:
    return {
        "type": "http",
        "method": "GET",
        "path": "/x",
        "raw_path": b"/x",
        "root_path": "",
        "scheme": "http",
        "query_string": b"",
        "headers": [],
        "server": ("testserver", 80),
        "client": ("127.0.0.1", 40000),
        "http_version": "1.1",
        "asgi": {"version": "3.0"},
    }


async def batch(target: FastAPI, count: int) -> float:
    started = time.perf_counter()
    for _ in range(count):
        await target(scope(), receive, send)
    return (time.perf_counter() - started) / count * 1e6


def calls_per_request(target: FastAPI) -> float:
    asyncio.run(batch(target, 100))  # warm: FastAPI's caches of the callables
    profile = cProfile.Profile()
    profile.enable()
    asyncio.run(batch(target, 1000))
    profile.disable()
    return pstats.Stats(profile).total_calls / 1000  # type: ignore[attr-defined, no-any-return]


async def timings() -> dict[str, float]:
    names = list(APPS)
    runs: dict[str, list[float]] = {name: [] for name in names}
    for round_ in range(ROUNDS):
        for name in names[round_ % 3 :] + names[: round_ % 3]:
            runs[name].append(await batch(APPS[name], BATCH))
    return {name: statistics.median(times) for name, times in runs.items()}


def main() -> None:
    calls = {name: calls_per_request(target) for name, target in APPS.items()}
    times = asyncio.run(timings())
    print(f"{'dependency':22} {'calls/request':>14} {'µs/request':>11}")
    for name in APPS:
        print(f"{name:22} {calls[name]:14.1f} {times[name]:11.1f}")


if __name__ == "__main__":
    main()
