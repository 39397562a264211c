"""The docs' measured figures, written from the bench report's ``results.json``: one source.

A measured figure in README.md or docs/*.md stands between two markers, as a block:

    <!-- figures: peer -->
    (written here from results.json)
    <!-- /figures -->

or on one line, inside a sentence or a table cell: ``<!-- figures: sweep -->…<!-- /figures -->``.
The name is a render function below, registered with ``@block``; it reads results.json's
keys and returns Markdown (one line for an inline block). A new block is one function and
a pair of markers.

    .venv-bench/bin/python benchmarks/figures.py            # rewrite every block
    .venv-bench/bin/python benchmarks/figures.py --check    # exit 1 if a doc disagrees

`make bench` rewrites the blocks after a full run (every stage, not ``--quick``), so the
docs and the report it commits come from one run; ``tests/test_figures.py`` runs the check.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import report  # noqa: E402
from throughput import (  # noqa: E402
    CARRYING,
    DEFAULT_CONFIG,
    DIRECT,
    FLOOR_CONFIG,
    FLOOR_ROUTE,
    LOADS,
    PEER_DB,
    PEER_JWT,
    README,
    README_NO_ACCOUNT_CACHE,
    REDIS_CACHED,
    REDIS_NO_CACHE,
    SERVICE,
    SQLITE_NO_CACHE,
)

Results = dict[str, Any]
Render = Callable[[Results], str]

BLOCKS: dict[str, Render] = {}
MARKED = re.compile(r"<!-- figures: ([a-z0-9_-]+) -->(.*?)<!-- /figures -->", re.DOTALL)


class FiguresError(Exception):
    """A block cannot be written: an unknown name, or results.json lacks what it reads."""


def block(name: str) -> Callable[[Render], Render]:
    """Register `render` as the block `name`."""

    def register(render: Render) -> Render:
        BLOCKS[name] = render
        return render

    return register


# --- reading results.json ------------------------------------------------------------


def stage(results: Results, key: str) -> Any:
    """The figures one stage left under `key`, or a `FiguresError` naming what is missing."""
    if not results.get(key):
        raise FiguresError(f"results.json has no {key!r}: run the full `make bench`")
    return results[key]


def http_row(results: Results, config: str, route: str) -> dict[str, Any]:
    for row in stage(results, "http"):
        if row["config"] == config and row["route"] == route:
            return dict(row)
    raise FiguresError(f"results.json has no HTTP row {config!r} / {route!r}")


def ratio(results: Results, config: str, route: str) -> str:
    return f"{http_row(results, config, route)['ratio']:.2f}×"


def cpu_ratio(results: Results, config: str, route: str) -> str:
    return f"{http_row(results, config, route)['cpu_ratio']:.2f}×"


def span(values: list[float], digits: int = 2, unit: str = "×") -> str:
    """`a–b` for a range of figures, or the one figure when they round alike."""
    low, high = f"{min(values):.{digits}f}", f"{max(values):.{digits}f}"
    return f"{low}{unit}" if low == high else f"{low}–{high}{unit}"


def environment(results: Results, key: str) -> str:
    value = results.get("meta", {}).get("environment", {}).get(key)
    if value is None:
        raise FiguresError(f"results.json's environment has no {key!r}")
    return str(value)


def propagation(results: Results, mode: str, what: str) -> dict[str, Any]:
    for row in stage(results, "propagation_rows"):
        if row["mode"] == mode and row["what"] == what:
            return dict(row)
    raise FiguresError(f"results.json has no propagation row {mode!r} / {what!r}")


# --- the blocks ----------------------------------------------------------------------


@block("run")
def run_block(results: Results) -> str:
    """Which run the figures come from: date, machine, and how busy it was."""
    load = "machine load (1-min load average) at {}"
    return (
        f"one run of `make bench` ({environment(results, 'date')}, "
        f"{environment(results, 'CPU')}; load average {environment(results, load.format('start'))}"
        f" at the start, {environment(results, load.format('end'))} at the end)"
    )


@block("headline")
def headline_block(results: Results) -> str:
    """Targets 1, 3 and 4, like for like: the report's headline, and the README's."""
    if not (table := report.headline(results)):
        raise FiguresError("results.json has no HTTP rows of the README's app or the service")
    return table


@block("cost-per-request")
def cost_block(results: Results) -> str:
    """choosing.md's cost-per-request cell: token verification, then protected routes."""
    verify = {row["alg"]: row for row in stage(results, "verify")}
    algs = [alg for alg in ("EdDSA", "ES256", "RS256", "HS256") if alg in verify]
    first_seen = ", ".join(f"{verify[a]['first_seen_us']:.0f} µs ({a})" for a in algs)
    faster = [1 - verify[a]["ratio_to_fastest"] for a in algs]
    against = (
        f"{span([100 * f for f in faster], 0, '%')} faster than"
        if min(faster) > 0
        else f"{span([verify[a]['ratio_to_fastest'] for a in algs])} the time of"
    )
    seen = verify.get("EdDSA", verify[algs[0]])
    bare = http_row(results, DEFAULT_CONFIG, "JWT")["bare_rps"]
    carrying = [
        http_row(results, config, CARRYING.format(credential="cookie"))["ratio"]
        for config in (DEFAULT_CONFIG, REDIS_CACHED)
    ]
    direct_jwt, direct_session = DIRECT.format(route="JWT"), DIRECT.format(route="session")
    return (
        f"Verifying a token seen for the first time takes {first_seen}, {against} the fastest "
        f"JOSE library measured beside it; a token seen before, {seen['seen_before_us']:.1f} µs "
        f"({seen['alg']}). A protected FastAPI route, as a share of the same app's bare route "
        f"(about {bare:,.0f} req/s on one core), on the embedded default (SQLite, the per-node "
        f"session cache on): with `await auth.current_user(request)` in the endpoint "
        f"{ratio(results, DEFAULT_CONFIG, direct_jwt)} by token, "
        f"{ratio(results, DEFAULT_CONFIG, direct_session)} by session, and "
        f"{ratio(results, REDIS_CACHED, direct_session)} by session on Redis (cache on); with "
        f"`Depends(auth.current_user)` {ratio(results, DEFAULT_CONFIG, 'JWT')}, "
        f"{ratio(results, DEFAULT_CONFIG, 'session')} and "
        f"{ratio(results, REDIS_CACHED, 'session')}, where FastAPI's `Depends` alone, checking "
        f"nothing, gives {ratio(results, FLOOR_CONFIG, FLOOR_ROUTE)}, "
        f"and the bare route merely sent the session cookie {span(carrying)}. With the session "
        f"cache off a session costs a store read: "
        f"{cpu_ratio(results, SQLITE_NO_CACHE, 'session')} of bare "
        f"by server CPU per request on SQLite, "
        f"{cpu_ratio(results, REDIS_NO_CACHE, 'session')} on Redis."
    )


@block("depends-floor")
def depends_floor_block(results: Results) -> str:
    """library.md: what FastAPI's `Depends` alone leaves of a bare route's throughput."""
    floor = ratio(results, FLOOR_CONFIG, FLOOR_ROUTE)
    return f"at {floor} of a bare route's throughput"


@block("invalidation")
def invalidation_block(results: Results) -> str:
    """choosing.md's invalidation cell: revoke to refusal on the other nodes."""

    def pair(mode: str, what: str) -> str:
        row = propagation(results, mode, what)
        return f"{row['p50_ms']:.1f} ms p50 / {row['p99_ms']:.1f} ms p99"

    token, logout = "token revocation", "logout (cached sessions)"
    return (
        f"through Redis {pair('redis', token)} for a token, {pair('redis', logout)} for a "
        f"logout with cached sessions; on PostgreSQL without Redis (LISTEN/NOTIFY) "
        f"{pair('postgres', token)} and {pair('postgres', logout)}; through the polled table "
        f"{pair('sql', token)}, bounded by `AUTHWARD_REVOCATION_POLL_INTERVAL` (1 s)"
    )


@block("peer")
def peer_block(results: Results) -> str:
    """choosing.md's table against fastapi-users, each figure labelled by the work done."""
    like = LOADS.format(route="JWT"), LOADS.format(route="session")
    peers = (
        http_row(results, PEER_JWT, LOADS.format(route="JWT")),
        http_row(results, PEER_DB, LOADS.format(route="database token")),
    )

    def against(config: str) -> str:
        mine = [http_row(results, config, route) for route in like]
        return (
            f"{mine[0]['rps'] / peers[0]['rps']:.2f}× fastapi-users' requests per second by "
            f"token, {mine[1]['rps'] / peers[1]['rps']:.2f}× by cookie; fastapi-users took "
            f"{peers[0]['cpu_us'] / mine[0]['cpu_us']:.1f}× and "
            f"{peers[1]['cpu_us'] / mine[1]['cpu_us']:.1f}× authward's server CPU per request"
        )

    identity = [http_row(results, README, route) for route in ("JWT", "session")]
    rows = [
        (
            "`Depends(auth.current_account)`, which hands over the user's row, from the "
            "node's account cache (the default)",
            "**like for like**: both hand the route the user",
            against(README),
        ),
        (
            "the same with `AUTHWARD_ACCOUNT_CACHE_TTL=0`: the row read on every request",
            "**like for like, strictly**: both read the user's row per request",
            against(README_NO_ACCOUNT_CACHE),
        ),
        (
            "`Depends(auth.current_user)`",
            "**not like for like**: authward loads no user",
            f"{identity[0]['ratio']:.2f}× (token) and {identity[1]['ratio']:.2f}× (session) "
            f"of the bare route, against {peers[0]['ratio']:.2f}× and {peers[1]['ratio']:.2f}× "
            "for fastapi-users; this says what authward's default costs, not that it does the "
            "same job faster",
        ),
    ]
    lines = [
        "| authward route (the README's app) | same work? | figure |",
        "|---|---|---|",
        *(f"| {a} | {b} | {c} |" for a, b, c in rows),
    ]
    return "\n".join(lines)


@block("service")
def service_block(results: Results) -> str:
    """The service's `GET /auth/me` (which loads the user) against its bare route."""
    return (
        f"{ratio(results, SERVICE, '/auth/me JWT')} of its bare route by token and "
        f"{ratio(results, SERVICE, '/auth/me session')} by session"
    )


@block("sweep")
def sweep_block(results: Results) -> str:
    """deployment.md: request p99 while the default sweep clears a million sessions."""
    rows = stage(results, "sweep")

    def one(row: dict[str, Any]) -> str:
        if row["finished"]:
            took = f"done in {row['sweep_s'] / 60:.1f} minutes"
        else:
            took = f"not done when the bench stopped it after {row['sweep_s'] / 60:.0f} minutes"
            if row.get("removed", -1) >= 0:
                took += f", {row['removed'] / row['expired']:.0%} removed"
        ratio = row.get("ratio", row["p99_during_ms"] / row.get("p99_before_ms", math.nan))
        repeated = sum(r["backend"] == row["backend"] for r in rows) > 1
        run = f" run {row.get('run', 1)}" if repeated else ""
        return f"{ratio:.2f}× ({row['backend']}{run}, {took})"

    quiet = "p99 quiet (before and after it)" if "ratio" in rows[0] else "p99 before it"
    return (
        f"with {rows[0]['expired']:,} expired sessions, request p99 during the sweep was "
        + ", ".join(one(row) for row in rows)
        + f" of {quiet}"
    )


BUSES = {
    "workers": "SQLite file, datagrams",
    "workers-poll": "SQLite file, polled",
    "postgres": "PostgreSQL, LISTEN/NOTIFY",
    "sql": "PostgreSQL, polled",
    "redis": "Redis pub/sub",
}


@block("propagation")
def propagation_block(results: Results) -> str:
    """deployment.md's table: revoke to refusal on the two other nodes, per bus."""
    rows = stage(results, "propagation_rows")
    lines = [
        "| bus | what | samples | p50 | p90 | p99 |",
        "|---|---|---:|---:|---:|---:|",
        *(
            f"| {BUSES.get(r['mode'], r['mode'])} | {r['what']} | {r['n']} | "
            f"{r['p50_ms']:.1f} ms | {r['p90_ms']:.1f} ms | {r['p99_ms']:.1f} ms |"
            for r in rows
        ),
    ]
    return "\n".join(lines)


@block("argon2")
def argon2_block(results: Results) -> str:
    """mfa.md: one argon2id verification at the password's and the recovery codes' cost."""
    lines = ["| parameters | one check | ten checks (10 × one) |", "|---|---:|---:|"]
    for h in stage(results, "passwords")["hashes"]:
        name = f"{h['label']} (t={h['time_cost']}, {h['memory_mib']:g} MiB, p={h['parallelism']})"
        name += f": {h['role']}" if h["role"] else ""
        lines.append(f"| {name} | {h['verify_ms']:.0f} ms | {10 * h['verify_ms'] / 1000:.2f} s |")
    return "\n".join(lines)


@block("recovery-guess")
def recovery_guess_block(results: Results) -> str:
    """mfa.md: what a dump of one recovery code costs to search, at the measured rate."""
    [codes] = [h for h in stage(results, "passwords")["hashes"] if "recovery" in h["role"]]
    ms = f"{codes['verify_ms']:.0f} ms"
    return f"At {ms} a guess, a dump of one code takes about 2^58 × {ms} to search"


@block("common-list")
def common_list_block(results: Results) -> str:
    """security.md: the common-password list's first load, its memory, and one check."""
    common = stage(results, "passwords")["common_list"]
    return (
        f"its first load took {common['load_s']:.2f} s, it then kept "
        f"{common['rss_mib']:.0f} MiB of memory in the process, and a check took "
        f"{common['check_us']:.2f} µs"
    )


@block("enumeration")
def enumeration_block(results: Results) -> str:
    """email.md: benchmarks/enumeration.py's output, as printed."""
    return "```\n" + str(stage(results, "enumeration")).strip() + "\n```"


@block("sizing")
def sizing_block(results: Results) -> str:
    """deployment.md: each store's unit costs, what sessions take, and 10 nodes at 50k req/s."""
    import scaleout

    return scaleout.sizing_table(stage(results, "sizing"))


# --- the documents -------------------------------------------------------------------


def documents(root: Path = ROOT) -> list[Path]:
    """Where measured figures may stand: the README and every page of docs/."""
    return [root / "README.md", *sorted((root / "docs").glob("*.md"))]


def fill(text: str, results: Results) -> str:
    """`text` with every block written anew from `results`."""

    def write(marked: re.Match[str]) -> str:
        name, old = marked[1], marked[2]
        if name not in BLOCKS:
            raise FiguresError(f"no render function for the block {name!r}")
        body = BLOCKS[name](results).strip()
        if "\n" in old:  # a block of its own lines
            return f"<!-- figures: {name} -->\n{body}\n<!-- /figures -->"
        if "\n" in body:
            raise FiguresError(f"the block {name!r} is inline, but renders several lines")
        return f"<!-- figures: {name} -->{body}<!-- /figures -->"

    return MARKED.sub(write, text)


def stale(results: Results, root: Path = ROOT) -> list[Path]:
    """The documents whose blocks differ from what `results` renders."""
    return [path for path in documents(root) if fill(path.read_text(), results) != path.read_text()]


def rewrite(results: Results, root: Path = ROOT) -> list[Path]:
    """Write every block of every document from `results`; return the documents changed."""
    changed = stale(results, root)
    for path in changed:
        path.write_text(fill(path.read_text(), results))
    return changed


def load(path: Path) -> Results:
    results: Results = json.loads(path.read_text())
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if stale")
    parser.add_argument("--results", type=Path, default=ROOT / "bench-report" / "results.json")
    args = parser.parse_args(argv)
    results = load(args.results)
    try:
        paths = stale(results) if args.check else rewrite(results)
    except FiguresError as exc:
        print(f"figures: {exc}", file=sys.stderr)
        return 1
    verb = "disagrees with" if args.check else "rewritten from"
    for path in paths:
        print(f"{path.relative_to(ROOT)} {verb} {args.results.name}")
    return 1 if args.check and paths else 0


if __name__ == "__main__":
    sys.exit(main())
