"""What one request costs the README's app in each form of target 1, in CPU, no server.

    .venv-bench/bin/python benchmarks/depcost.py                 # CPU µs, 30 rounds
    cd DIR && valgrind --tool=callgrind --dump-before=os_getppid \\
        .venv-bench/bin/python benchmarks/depcost.py --marked 200 > order.txt
    .venv-bench/bin/python benchmarks/depcost.py --dumps DIR      # instructions/request

The README's app (`apps.readme_app`, default settings on SQLite, the session cache on)
driven as ASGI with a prepared scope, receive and send, for each form: the bare route,
the no-op ``Depends`` (with a bearer header, with the session cookie),
``Depends(auth.current_user)`` by token and by session, and the same check awaited in
the endpoint. With ``--rounds`` each case runs a batch in turn, round after round, and
the figure is the median of this process's CPU time per request over rounds (time spent
waiting for the CPU is not in it). With ``--marked N`` each case runs N requests, 50 at a
time between two calls of ``os.getppid``, a C function nothing else on this path calls: under
callgrind with ``--dump-before=os_getppid``, every other dump holds one case's
instructions alone, deterministic whatever the machine's load; the script prints which
dump is which (save it as ``order.txt`` beside the dumps), and ``--dumps`` reads them
back into instructions per request (``--marked`` sets the revocation poll to a minute, so
that the feed never seems stale at callgrind's pace: a request's staleness check is the
same comparison whatever the interval).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from hotpath import http_scope, measure, receive, send, settings_env  # noqa: E402

BATCH = 500
PER_MARK = 50  # requests between two marks: short, as callgrind runs ~50 times slower
MARK = "marked: "
Case = Callable[[], Awaitable[Any]]
FORMS = {  # case: (path, credential)
    "bare": ("/bench/bare", None),
    "no-op Depends, token header": ("/bench/noop", "token"),
    "no-op Depends, cookie": ("/bench/noop", "cookie"),
    "Depends(current_user), token": ("/notes", "token"),
    "Depends(current_user), session": ("/notes", "cookie"),
    "awaited current_user, token": ("/bench/direct", "token"),
    "awaited current_user, session": ("/bench/direct", "cookie"),
}
# Each protected case against the no-op Depends with the same header.
BASELINES = {
    "Depends(current_user), token": "no-op Depends, token header",
    "Depends(current_user), session": "no-op Depends, cookie",
    "awaited current_user, token": "no-op Depends, token header",
    "awaited current_user, session": "no-op Depends, cookie",
}


async def build_cases(app: Any) -> dict[str, Case]:
    from authward.cli.bench import make_fixture
    from authward.web.transports import session_cookie_name

    auth = app.state.authward
    fixture = await make_fixture(auth.runtime)
    headers = {
        None: [],
        "token": [(b"authorization", f"Bearer {fixture.access_token}".encode())],
        "cookie": [
            (b"cookie", f"{session_cookie_name(auth.settings)}={fixture.session_id}".encode())
        ],
    }

    def case(path: str, credential: str | None) -> Case:
        chosen = headers[credential]
        return lambda: app(http_scope(app, path, chosen), receive, send)

    cases = {name: case(path, credential) for name, (path, credential) in FORMS.items()}
    for run in cases.values():  # warm every path (the first token check, the session cache)
        for _ in range(50):
            await run()
    return cases


async def cpu_rounds(cases: dict[str, Case], rounds: int) -> dict[str, list[float]]:
    """CPU µs per request of each case, one figure a round; the cases take turns."""
    return await measure(cases, rounds, clock=time.process_time, batch=BATCH, pause=0.01)


async def marked(cases: dict[str, Case], count: int) -> None:
    """Each case's `count` requests between two marks (os.getppid), for callgrind."""
    order = []
    for name, run in cases.items():
        for _ in range(count // PER_MARK):
            os.getppid()  # the dump before this holds what ran since the last mark
            for _ in range(PER_MARK):
                await run()
            os.getppid()
            order.append(name)
            await asyncio.sleep(0.01)  # the feed polls here, outside every case's dumps
    print(MARK + "|".join(order))


def read_dumps(directory: Path) -> dict[str, float]:
    """Instructions per request of each case, from callgrind's dumps in `directory` and
    this script's output under ``--marked`` saved there as ``order.txt``."""
    line = next(x for x in (directory / "order.txt").read_text().splitlines() if x.startswith(MARK))
    order = line.removeprefix(MARK).split("|")
    dumps = sorted(directory.glob("callgrind.out.*.*"), key=lambda p: int(p.suffix[1:]))
    totals = []
    for path in dumps:
        found = re.search(r"^totals: (\d+)", path.read_text(), re.MULTILINE)
        totals.append(int(found.group(1)) if found else 0)
    # Dump k (from 1) is written as mark k is reached: the even ones end a batch.
    per_case: dict[str, int] = {}
    for index, name in enumerate(order):
        per_case[name] = per_case.get(name, 0) + totals[2 * index + 1]
    count = order.count(order[0]) * PER_MARK
    return {name: total / count for name, total in per_case.items()}


def report(runs: dict[str, list[float]]) -> None:
    print(f"{'case':34} {'CPU µs':>8} {'over no-op':>11} {'no-op/this':>11} {'× bare':>7}")
    for name, times in runs.items():
        base = BASELINES.get(name)
        extra = ""
        share = ""
        if base:
            pairs = list(zip(times, runs[base], strict=True))
            extra = f"{statistics.median(a - b for a, b in pairs):+.2f}"
            share = f"{statistics.median(b / a for a, b in pairs):.3f}"
        bare = statistics.median(b / a for a, b in zip(times, runs["bare"], strict=True))
        print(f"{name:34} {statistics.median(times):8.2f} {extra:>11} {share:>11} {bare:7.3f}")


async def main(args: argparse.Namespace) -> None:
    import apps

    app = apps.readme_app()
    async with app.state.authward.lifespan(app):
        cases = await build_cases(app)
        if args.marked:
            await marked(cases, args.marked)
        else:
            report(await cpu_rounds(cases, args.rounds))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--marked", type=int, default=0, help="requests per case, callgrind")
    parser.add_argument("--dumps", type=Path, help="read a callgrind run's dumps in DIR")
    args = parser.parse_args()
    if args.dumps:
        per_request = read_dumps(args.dumps)
        base = per_request["bare"]
        print(f"{'instructions per request':34} {'':>12} {'over no-op':>10} {'no-op/this':>11}")
        for name, value in per_request.items():
            over = BASELINES.get(name)
            extra = " " * 22
            if over:
                extra = f"{value - per_request[over]:+10,.0f} {per_request[over] / value:11.3f}"
            print(f"{name:34} {value:12,.0f} {extra}  ×bare {base / value:.3f}")
    else:
        with tempfile.TemporaryDirectory() as workdir:
            os.environ.update(settings_env(Path(workdir)))
            if args.marked:  # callgrind runs ~50 times slower: no feed may seem stale
                os.environ["AUTHWARD_REVOCATION_POLL_INTERVAL"] = "60"
            asyncio.run(main(args))
