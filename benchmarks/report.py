"""Write ``bench-report/index.md`` (and its PNG plots) from one run's results.

`results` is the plain dict `run.py` collects (and keeps beside the report as
``results.json``); a stage that did not run is simply absent, and its section says so.
Plots need matplotlib (in benchmarks/requirements.txt); without it the tables stand alone.
"""

from __future__ import annotations

import math
import statistics
from pathlib import Path
from typing import Any

from throughput import (
    DIRECT,
    FLOOR_ROUTE,
    README,
    README_NO_ACCOUNT_CACHE,
    SERVICE,
    carried_by,
    is_baseline,
    loads_user,
)

Results = dict[str, Any]

TARGETS = {
    "throughput": 0.80,  # protected / bare, req/s, the check awaited in the endpoint
    "depends": 0.90,  # protected / a no-op Depends on the same server, the Depends form
    "verify": 1.00,  # authward first seen / fastest library, µs
    "storm_rps": 0.50,  # /auth/me during the storm / alone
    "storm_p99": 3.0,  # p99 during / alone
    "scale": 1.20,  # check cost at 1M / at 1k
    "sweep": 1.20,  # p99 during the sweep / before
    "me": 0.60,  # the service's /auth/me / its bare route, default settings (issue 19.3)
    "peer_loads": 3.0,  # authward / fastapi-users, both handing over the user (issue 19.4)
    "peer_identity": 8.0,  # authward's current_user / fastapi-users' (which loads the user)
    "second_worker": 0.85,  # what a second worker adds / the first worker's req/s (19.5)
}


def _f(value: Any, digits: int = 0) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, float | int):
        return f"{value:,.{digits}f}"
    return str(value)


def _ok(met: bool | None) -> str:
    return "–" if met is None else ("✅ met" if met else "❌ missed")


def _table(columns: list[str], rows: list[list[str]]) -> str:
    lines = [
        "| " + " | ".join(columns) + " |",
        "|" + "|".join(["---"] + ["---:"] * (len(columns) - 1)) + "|",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _spread(row: dict[str, Any]) -> str:
    """The middle half of a route's per-round ratios: how much the machine moved meanwhile."""
    ratios = [protected / bare for bare, protected in row.get("rounds", []) if bare]
    if len(ratios) < 4:
        return "too few to spread"
    q1, _, q3 = statistics.quantiles(ratios)
    return f"middle half {q1:.2f}–{q3:.2f}"


def _against_carrying(row: dict[str, Any], http: list[dict[str, Any]]) -> str:
    """The route's ratio to the bare route sent the same credential, paired round by round.

    Not the verdict (that is against the bare route, sent nothing): what it shows is how
    much of the gap is the credential's own weight in the request, not authentication.
    """
    baseline = carried_by(row["route"])
    found = [r for r in http if r["config"] == row["config"] and r["route"] == baseline]
    if not found:
        return ""
    paired = [
        protected / carrying
        for (_, protected), (_, carrying) in zip(row["rounds"], found[0]["rounds"], strict=True)
        if carrying
    ]
    return f"; against {baseline}: {statistics.median(paired):.2f}×" if paired else ""


def against_floor(row: dict[str, Any], http: list[dict[str, Any]]) -> float | None:
    """The route's ratio to the no-op ``Depends`` of the same server, paired round by round;
    None where that server measured no such route."""
    found = [r for r in http if r["config"] == row["config"] and r["route"] == FLOOR_ROUTE]
    if not found or not row.get("rounds"):
        return None
    paired = [
        protected / floor
        for (_, protected), (_, floor) in zip(row["rounds"], found[0]["rounds"], strict=True)
        if floor
    ]
    return statistics.median(paired) if paired else None


def target_one(row: dict[str, Any], http: list[dict[str, Any]]) -> tuple[str, float, float]:
    """Target 1's yardstick for a protected route: (against what, measured, goal).

    The check awaited in the endpoint is held to ≥ 0.80× the bare route. Declared with
    ``Depends``, it is held to ≥ 0.90× of a dependency that checks nothing on the same
    server: FastAPI's dependency machinery costs that much by itself, whoever checks.
    A server that measured no such floor holds the Depends form to the bare route too.
    """
    if not row["route"].endswith(DIRECT.removeprefix("{route}")):
        floor = against_floor(row, http)
        if floor is not None:
            return "the no-op Depends on the same server", floor, TARGETS["depends"]
    return "bare", row["ratio"], TARGETS["throughput"]


def peer_pairs(http: list[dict[str, Any]]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Each authward route beside the fastapi-users route on the same kind of credential.

    JWT with JWT; a cookie that names a stored row (authward's session, the peer's
    database token) with the other. Baselines (bare routes) and the target-1 cached rows
    are left out: the pairs are the app a user writes, on default settings.
    """
    peers = [r for r in http if r["config"].startswith("fastapi-users")]
    mine = [
        r
        for r in http
        if r["config"] in (README, README_NO_ACCOUNT_CACHE)
        and (r["route"] in ("JWT", "session") or loads_user(r["route"]))
    ]
    return [
        (a, p)
        for a in mine
        for p in peers
        if a["route"].startswith("JWT") == p["route"].startswith("JWT")
    ]


def headline(results: Results) -> str:
    """Targets 1, 3 and 4 of issue 19, like for like, as a table (empty when not measured).

    1: the README's ten-line app as written, its protected route in both forms (`target_one`);
    3: the service's ``GET /auth/me`` against its bare route, default settings;
    4: the README's app handing over the user (``current_account``) against fastapi-users'
    ``current_user``, which does the same, with the account cache on and off.
    """
    http = results.get("http", [])
    rows: list[list[str]] = []
    for row in http:
        if row["config"] == README and row["route"] in ("JWT", "session"):
            what = f"the README's app, `/notes` by {row['route']}"
            rows.append(_target_one_row(what, row, http))
    for row in http:
        if row["config"] == README and row["route"] in (
            DIRECT.format(route="JWT"),
            DIRECT.format(route="session"),
        ):
            by = row["route"].split(",")[0]
            what = f"the README's app, `await auth.current_user(request)` by {by}"
            rows.append(_target_one_row(what, row, http))
    for row in http:
        if row["config"] == SERVICE and not is_baseline(row["route"]):
            by = row["route"].removeprefix("/auth/me ")
            rows.append(_headline_row("3", f"the service's `GET /auth/me` by {by}", row))
    for mine, peer in peer_pairs(http):
        if loads_user(mine["route"]):
            against = mine["rps"] / peer["rps"]
            cpu = peer["cpu_us"] / mine["cpu_us"]
            cache = "on" if mine["config"] == README else "off"
            rows.append(
                [
                    "4",
                    f"the README's app, `current_account` by {mine['route'].split(',')[0]} "
                    f"(account cache {cache}), against fastapi-users' `current_user` by "
                    f"{peer['route'].split(',')[0]}",
                    f"**{against:.2f}×** its req/s ({_f(mine['rps'])} vs {_f(peer['rps'])}); "
                    f"{cpu:.2f}× less server CPU per request",
                    f"≥ {TARGETS['peer_loads']:.0f}×",
                    _ok(against >= TARGETS["peer_loads"]),
                ]
            )
    if not rows:
        return ""
    return _table(["target", "like for like", "measured", "goal", "verdict"], rows)


def _target_one_row(what: str, row: dict[str, Any], http: list[dict[str, Any]]) -> list[str]:
    against, measured, goal = target_one(row, http)
    if against == "bare":
        return _headline_row("1", what, row)
    return [
        "1",
        f"{what} against {against}",
        f"**{measured:.2f}×** (against the bare route: {row['ratio']:.2f}×; server CPU per "
        f"request: {row['cpu_ratio']:.2f}×)",
        f"≥ {goal:.2f}×",
        _ok(measured >= goal),
    ]


def _headline_row(target: str, what: str, row: dict[str, Any]) -> list[str]:
    goal = TARGETS["throughput"] if target == "1" else TARGETS["me"]
    return [
        target,
        f"{what} against the same app's bare route",
        f"**{row['ratio']:.2f}×** (server CPU per request: {row['cpu_ratio']:.2f}×)",
        f"≥ {goal:.2f}×",
        _ok(row["ratio"] >= goal),
    ]


def targets(results: Results) -> list[dict[str, Any]]:
    """Every target with its measured value, its goal and whether it was met."""
    out: list[dict[str, Any]] = []

    def add(target: str, value: str, met: bool | None) -> None:
        out.append({"target": target, "value": value, "met": met})

    http = results.get("http", [])
    for row in http:
        if row["target"]:
            against, measured, goal = target_one(row, http)
            versus = "" if against == "bare" else f"; against bare: {row['ratio']:.2f}×"
            add(
                f"1. {row['route']} ≥ {goal:.2f}× {against} ({row['config']})",
                f"{measured:.2f}× (rounds {_spread(row)}; CPU: {row['cpu_ratio']:.2f}×"
                f"{versus}{_against_carrying(row, http)})",
                measured >= goal,
            )
    for row in http:
        if row["config"] == SERVICE and not is_baseline(row["route"]):
            add(
                f"1b. {row['route']} ≥ 0.60× bare (service, default settings)",
                f"{row['ratio']:.2f}× (rounds {_spread(row)}; CPU: {row['cpu_ratio']:.2f}×)",
                row["ratio"] >= TARGETS["me"],
            )
    for mine, peer in peer_pairs(http):
        if mine["config"] != README:
            continue
        goal = TARGETS["peer_loads"] if loads_user(mine["route"]) else TARGETS["peer_identity"]
        ratio = mine["rps"] / peer["rps"]
        work = "like for like" if loads_user(mine["route"]) else "authward does not load the user"
        add(
            f"1c. README app {mine['route']} ≥ {goal:.0f}× fastapi-users {peer['route']} ({work})",
            f"{ratio:.2f}× ({_f(mine['rps'])} vs {_f(peer['rps'])} req/s; CPU per request: "
            f"{peer['cpu_us'] / mine['cpu_us']:.2f}×)",
            ratio >= goal,
        )
    for row in results.get("verify", []):
        fastest = min(row["pyjwt_us"], row["joserfc_us"])
        add(
            f"2. {row['alg']} first-seen verify ≤ fastest library ({row['fastest_library']})",
            f"{row['first_seen_us']:.1f} µs vs {fastest:.1f} µs "
            f"(paired ratio {row['ratio_to_fastest']:.2f})",
            row["ratio_to_fastest"] <= TARGETS["verify"],
        )
    if storm := results.get("storm"):
        alone, during = storm["alone_rps"], storm["storm_rps"]
        rps_ratio = during / alone if alone else float("nan")
        p99_alone, p99_during = storm["alone_p99_ms"], storm["storm_p99_ms"]
        p99_ratio = p99_during / p99_alone if p99_alone else float("nan")
        add(
            "3. /auth/me during a login storm keeps ≥ 50% of its req/s",
            f"{rps_ratio:.2f}× ({during:.0f} vs {alone:.0f} req/s)",
            rps_ratio >= TARGETS["storm_rps"],
        )
        add(
            "3. … and its p99 within 3× of alone",
            f"{p99_ratio:.2f}× ({p99_during:.1f} vs {p99_alone:.1f} ms)",
            p99_ratio <= TARGETS["storm_p99"],
        )
        add(
            "4. logins per second, argon2id at RFC 9106, bounded memory (report)",
            f"{storm['logins_per_s']:.1f} logins/s; peak RSS {storm['peak_rss_mib']:.0f} MiB",
            None,
        )
    if scaleout := results.get("scaleout"):
        for route, row in scaleout.get("workers", {}).get("routes", {}).items():
            add(
                f"5. {route}: a second worker adds ≥ 0.85 of the first's req/s",
                f"{row['second_share']:.2f} ({_f(row['rps_1'])} → {_f(row['rps_2'])} req/s)",
                row["second_share"] >= TARGETS["second_worker"],
            )
        for route, row in scaleout.get("nodes", {}).get("routes", {}).items():
            add(
                f"5. {route}: three nodes over PostgreSQL + Redis, each at its share",
                f"smallest node {row['min_share']:.2f} of the mean; together "
                f"{row['total_over_alone']:.2f}× one alone",
                None,
            )
    if floor := results.get("login_floor"):
        for route, row in floor["routes"].items():
            add(
                f"6. {route} logins ≥ 0.90× argon2id alone, same parameters and concurrency",
                f"{row['ratio']:.2f}× ({row['per_s']:.2f} vs {floor['floor_per_s']:.2f}/s; "
                f"{row['ratio_nice']:.2f}× of the floor at the hashing threads' niceness)",
                row["met"],
            )
    for store, check in results.get("storereads", {}).get("checks", {}).items():
        add(
            f"2b. {store}: a session check's store read adds ≤ {check['goal_us']:.0f} µs "
            "(no cache; issue 19, target 2)",
            f"{check['added_us']:.0f} µs (CPU: {check['cpu_added_us']:.0f} µs; "
            f"{check['after_over_before']:.2f}× the read before this work)",
            check["added_us"] <= check["goal_us"],
        )
    for row in results.get("scale", []):
        ratio = row["large_us"] / row["small_us"]
        add(
            f"5. {row['backend']}: check at {row['large']:,} ≤ 1.2× at {row['small']:,}",
            f"{ratio:.2f}× ({row['large_us']:.0f} vs {row['small_us']:.0f} µs)",
            ratio <= TARGETS["scale"],
        )
    sweeps = results.get("sweep", [])
    for row in sweeps:
        if row["backend"] != "Redis":
            add(
                f"5. {row['backend']}: sweep of {row['expired']:,} raises p99 ≤ 20%",
                f"{_sweep_ratio(row)} ({_sweep_p99s(row)}; {_sweep_done(row)})",
                _sweep_ratio_of(row) <= TARGETS["sweep"] and bool(row["finished"]),
            )
    redis = [row for row in sweeps if row["backend"] == "Redis"]
    if redis:
        runs = "; ".join(
            f"run {row.get('run', 1)}: {_sweep_ratio(row)}, {_sweep_done(row)}" for row in redis
        )
        add(
            f"7. Redis: sweep of {redis[0]['expired']:,} keeps p99 ≤ 1.20× in 3 runs of 3",
            runs,
            len(redis) >= 3
            and all(
                _sweep_ratio_of(row) <= TARGETS["sweep"] and bool(row["finished"]) for row in redis
            ),
        )
    return out


def _sweep_ratio_of(row: dict[str, Any]) -> float:
    """p99 during the sweep over p99 quiet (a report from before the quiet slices: over
    p99 before the sweep)."""
    if "ratio" in row:
        return float(row["ratio"])
    before = row["p99_before_ms"]
    return float(row["p99_during_ms"] / before) if before else math.nan


def _sweep_ratio(row: dict[str, Any]) -> str:
    return f"{_sweep_ratio_of(row):.2f}×"


def _sweep_p99s(row: dict[str, Any]) -> str:
    quiet = row.get("p99_quiet_ms", row.get("p99_before_ms"))
    return f"{row['p99_during_ms']:.1f} vs {quiet:.1f} ms"


def _sweep_done(row: dict[str, Any]) -> str:
    """Whether the sweep finished, and how far it got: removed of expired, per second."""
    rate = f"{row['removed'] / row['sweep_s']:,.0f}/s" if row.get("removed", -1) >= 0 else ""
    if row["finished"]:
        return f"done in {row['sweep_s']:.0f} s, {rate}"
    if row.get("removed", -1) < 0:
        return f"not done after {row['sweep_s']:.0f} s"
    share = row["removed"] / row["expired"]
    return f"not done after {row['sweep_s']:.0f} s: {share:.0%} removed, {rate}"


# --- plots ---------------------------------------------------------------------------


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    return plt


def plot_all(results: Results, out: Path) -> list[str]:
    """Draw every plot the results allow; return the file names written."""
    plt = _pyplot()
    if plt is None:
        return []
    written = []
    for name, draw in (
        ("throughput.png", _plot_throughput),
        ("cost.png", _plot_cost),
        ("latency.png", _plot_latency),
        ("verify.png", _plot_verify),
        ("storm.png", _plot_storm),
        ("scale.png", _plot_scale),
    ):
        figure = draw(plt, results)
        if figure is not None:
            figure.tight_layout()
            figure.savefig(out / name, dpi=110)
            plt.close(figure)
            written.append(name)
    return written


def _labels(rows: list[dict[str, Any]]) -> list[str]:
    # One line each, set at a slant: side by side, multi-line names ran into each other.
    labels = [r.get("label") or f"{r['config'].split(',')[0]} {r['route']}" for r in rows]
    return [" ".join(label.split()) for label in labels]


def _label_axis(axis: Any, rows: list[dict[str, Any]]) -> None:
    axis.set_xticks(range(len(rows)), _labels(rows), fontsize=7, rotation=30, ha="right")


def _plotted(results: Results) -> list[dict[str, Any]]:
    """The HTTP rows the plots show: the baselines carrying a credential are in the table."""
    return [r for r in results.get("http", []) if not is_baseline(r["route"])]


def _plot_throughput(plt: Any, results: Results) -> Any:
    rows = _plotted(results)
    if not rows:
        return None
    figure, axis = plt.subplots(figsize=(11, 5))
    x = range(len(rows))
    axis.bar([i - 0.2 for i in x], [r["bare_rps"] for r in rows], 0.4, label="bare route")
    axis.bar([i + 0.2 for i in x], [r["rps"] for r in rows], 0.4, label="protected route")
    for i, r in enumerate(rows):
        axis.annotate(
            f"{r['ratio']:.2f}×", (i + 0.2, r["rps"]), ha="center", va="bottom", fontsize=8
        )
    _label_axis(axis, rows)
    axis.set_ylabel("requests per second (one worker)")
    axis.set_title("Requests per second, protected route beside the same app's bare route")
    axis.legend()
    return figure


def _plot_cost(plt: Any, results: Results) -> Any:
    rows = _plotted(results)
    if not rows:
        return None
    figure, axis = plt.subplots(figsize=(11, 4.5))
    x = range(len(rows))
    axis.bar([i - 0.2 for i in x], [r["bare_cpu_us"] for r in rows], 0.4, label="bare route")
    axis.bar([i + 0.2 for i in x], [r["cpu_us"] for r in rows], 0.4, label="protected route")
    _label_axis(axis, rows)
    axis.set_ylabel("server CPU µs per request")
    axis.set_title("Cost per request: the server's CPU time divided by the requests it answered")
    axis.legend()
    return figure


def _plot_latency(plt: Any, results: Results) -> Any:
    rows = _plotted(results)
    if not rows:
        return None
    figure, axis = plt.subplots(figsize=(11, 4.5))
    x = range(len(rows))
    axis.bar([i - 0.3 for i in x], [r["bare_p50_ms"] for r in rows], 0.2, label="bare p50")
    axis.bar([i - 0.1 for i in x], [r["bare_p99_ms"] for r in rows], 0.2, label="bare p99")
    axis.bar([i + 0.1 for i in x], [r["p50_ms"] for r in rows], 0.2, label="protected p50")
    axis.bar([i + 0.3 for i in x], [r["p99_ms"] for r in rows], 0.2, label="protected p99")
    _label_axis(axis, rows)
    axis.set_ylabel("latency, ms (closed loop)")
    axis.set_title("Latency percentiles at saturation")
    axis.legend(fontsize=8)
    return figure


def _plot_verify(plt: Any, results: Results) -> Any:
    rows = results.get("verify", [])
    if not rows:
        return None
    figure, axis = plt.subplots(figsize=(9, 4.5))
    series = [
        ("raw primitive (floor)", "raw_us"),
        ("authward, first seen", "first_seen_us"),
        ("PyJWT (best)", "pyjwt_us"),
        ("joserfc (best)", "joserfc_us"),
        ("authward, seen before", "seen_before_us"),
    ]
    width = 0.16
    for n, (label, key) in enumerate(series):
        axis.bar(
            [i + (n - 2) * width for i in range(len(rows))],
            [r[key] for r in rows],
            width,
            label=label,
        )
    axis.set_xticks(range(len(rows)), [r["alg"] for r in rows])
    axis.set_ylabel("µs per verification")
    axis.set_title("Access token verification (same key, same checks)")
    axis.legend(fontsize=8)
    return figure


def _plot_storm(plt: Any, results: Results) -> Any:
    storm = results.get("storm")
    if not storm or not storm["slices"]:
        return None
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(10, 6), sharex=True)
    slices = storm["slices"]
    t = [s["t"] for s in slices]
    top.plot(t, [s["rps"] for s in slices], marker="o")
    top.set_ylabel("/auth/me req/s")
    bottom.plot(t, [s["p99_ms"] for s in slices], marker="o", color="tab:red")
    bottom.set_ylabel("/auth/me p99, ms")
    bottom.set_xlabel("seconds")
    storm_t = [s["t"] for s in slices if s["phase"] == "storm"]
    if storm_t:
        for axis in (top, bottom):
            axis.axvspan(
                min(storm_t) - 1, max(storm_t), color="orange", alpha=0.2, label="login storm"
            )
        top.legend()
    memory = storm.get("memory") or []
    if memory:
        twin = bottom.twinx()
        twin.plot([m[0] for m in memory], [m[1] for m in memory], color="grey", alpha=0.6)
        twin.set_ylabel("server RSS, MiB", color="grey")
    top.set_title(f"/auth/me through a login storm ({storm['storm_logins_per_s']:.1f} logins/s)")
    return figure


def _plot_scale(plt: Any, results: Results) -> Any:
    scale, sweep = results.get("scale", []), results.get("sweep", [])
    if not scale and not sweep:
        return None
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4.5))
    if scale:
        x = range(len(scale))
        left.bar(
            [i - 0.2 for i in x],
            [r["small_us"] for r in scale],
            0.4,
            label=f"{scale[0]['small']:,} sessions",
        )
        left.bar(
            [i + 0.2 for i in x],
            [r["large_us"] for r in scale],
            0.4,
            label=f"{scale[0]['large']:,} sessions",
        )
        left.set_xticks(list(x), [r["backend"] for r in scale])
        left.set_ylabel("µs per session check (median)")
        left.set_title("Session check against the store")
        left.legend()
    if sweep:
        x = range(len(sweep))
        right.bar(
            [i - 0.2 for i in x],
            [r.get("p99_quiet_ms", r.get("p99_before_ms")) for r in sweep],
            0.4,
            label="p99 quiet (before and after)",
        )
        right.bar(
            [i + 0.2 for i in x],
            [r["p99_during_ms"] for r in sweep],
            0.4,
            label="p99 during the sweep",
        )
        right.set_xticks(list(x), [f"{r['backend']} {r.get('run', 1)}" for r in sweep])
        right.set_ylabel("ms")
        right.set_title(f"Request p99 while {sweep[0]['expired']:,} expired sessions are swept")
        right.legend()
    return figure


# --- the page ------------------------------------------------------------------------


def write(results: Results, out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    plots = set(plot_all(results, out))
    meta = results.get("meta", {})
    parts = [f"# authward benchmark report\n\n{meta.get('summary', '')}\n"]
    if top := headline(results):
        parts.append("## Headline: like for like (issue 19, targets 1, 3 and 4)\n\n" + top)
    parts.append(_environment(meta))
    parts.append("## Targets\n\n")
    parts.append(
        _table(
            ["target", "measured", "verdict"],
            [[t["target"], t["value"], _ok(t["met"])] for t in targets(results)],
        )
        or "No stage ran.\n"
    )
    parts.append(_throughput_section(results, plots))
    parts.append(_verify_section(results, plots))
    parts.append(_storm_section(results, plots))
    parts.append(_scale_section(results, plots))
    parts.append(_propagation_section(results))
    parts.append(_login_floor_section(results))
    parts.append(_storereads_section(results))
    parts.append(_scaleout_section(results))
    parts.append(_passwords_section(results))
    parts.append(_enumeration_section(results))
    parts.append(_notes(meta))
    page = out / "index.md"
    page.write_text("\n".join(parts))
    return page


def _environment(meta: dict[str, Any]) -> str:
    lines = [f"- {key}: {value}" for key, value in meta.get("environment", {}).items()]
    return "## Machine and method\n\n" + "\n".join(lines) + "\n"


def _image(name: str, plots: set[str], alt: str) -> str:
    return f"\n![{alt}]({name})\n" if name in plots else ""


def _throughput_section(results: Results, plots: set[str]) -> str:
    rows = results.get("http")
    head = "## 1. A protected route against a bare one, and against the peer\n\n"
    if not rows:
        return head + "Not run.\n"
    text = head + (
        "Each configuration is one server (one uvicorn worker, uvloop + httptools) holding a "
        "bare route and the protected one; the routes take turns, round after round, and a "
        "ratio is the median of the per-round ratios. *Added µs* is the median per-round "
        "difference in 1/throughput (the server is on one core). *CPU µs* is the server "
        "process's own CPU time per request (`/proc/<pid>/stat`), which a busy machine "
        "disturbs far less than requests per second; *CPU ratio* is bare CPU / protected CPU. "
        "A route *called directly* awaits the same `auth.current_user(request)` inside the "
        "endpoint instead of declaring it with `Depends`: the same checks and answers, without "
        "FastAPI's dependency machinery (whose cost alone is the *no-op Depends* row). "
        "*bare, carrying the cookie* (or *the token*) is the bare route sent the credential "
        "a protected route is sent, as a browser sends its cookie to every route of a site: "
        "what the credential's own weight in the request costs, before anyone checks it. "
        "The verdicts stay against the bare route sent nothing.\n\n"
    )
    table_rows = [
        [
            r["config"] + (f" ({r['note']})" if r["note"] else ""),
            r["route"],
            _f(r["bare_rps"]),
            _f(r["rps"]),
            f"**{r['ratio']:.2f}×**",
            _f(r["added_us"]),
            f"{_f(r['bare_cpu_us'])} → {_f(r['cpu_us'])}",
            f"{r['cpu_ratio']:.2f}×",
            f"{_f(r['bare_p50_ms'], 2)} / {_f(r['bare_p99_ms'], 2)}",
            f"{_f(r['p50_ms'], 2)} / {_f(r['p99_ms'], 2)}",
            str(r["errors"]),
        ]
        for r in rows
    ]
    text += _table(
        [
            "configuration",
            "route",
            "bare req/s",
            "req/s",
            "× bare",
            "added µs",
            "CPU µs/req",
            "CPU ratio",
            "bare p50/p99 ms",
            "p50/p99 ms",
            "errors",
        ],  # fmt: skip
        table_rows,
    )
    pairs = peer_pairs(rows)
    if pairs:
        text += (
            "\nAgainst the peer, route by route, same machine, same run. fastapi-users' "
            "`current_user` loads the user's row on every request; authward's `current_user` "
            "does not (it hands over who called: id, strategy, credential), its "
            "`current_account` does (from the node's account cache, or with that cache off from "
            "SQLite, as the peer does). *Like for like* pairs routes that both hand over the "
            "user; the others are labelled as authward doing less. Each peer row is paired "
            "with the authward route on the same kind of credential (a bearer JWT; a cookie "
            "naming a row: authward's session, the peer's database token). *CPU ratio* is the "
            "peer's server CPU per request over authward's, which a busy machine disturbs "
            "less than requests per second.\n\n"
        )
        text += _table(
            ["authward", "req/s", "fastapi-users", "req/s", "work", "authward / peer", "CPU ratio"],
            [
                [
                    f"{a['config']} — {a['route']}",
                    _f(a["rps"]),
                    p["route"],
                    _f(p["rps"]),
                    "like for like" if loads_user(a["route"]) else "authward: no user loaded",
                    f"**{a['rps'] / p['rps']:.2f}×**",
                    f"{p['cpu_us'] / a['cpu_us']:.2f}×",
                ]
                for a, p in pairs
            ],
        )
    text += _image("throughput.png", plots, "requests per second")
    text += _image("cost.png", plots, "cost per request")
    text += _image("latency.png", plots, "latency percentiles")
    return text


def _verify_section(results: Results, plots: set[str]) -> str:
    rows = results.get("verify")
    head = "## 2. Verifying a token seen for the first time\n\n"
    if not rows:
        return head + "Not run.\n"
    text = head + (
        "One process, one key per algorithm (authward's own, handed to every library), the "
        "same token and the same checks (signature, pinned alg, `typ`, seven required "
        "claims, iss/aud, exp/iat); the paths take turns round after round "
        "(`benchmarks/tokens.py`'s method, on the thread's CPU clock). *First seen* empties "
        "authward's cache before each "
        "call; *seen before* is the cache hit every later request with that token gets. The "
        "ratio is the median of per-round ratios against the fastest library variant.\n\n"
    )
    text += _table(
        [
            "alg",
            "raw primitive",
            "authward first seen",
            "PyJWT (best)",
            "joserfc (best)",
            "fastest library",
            "ratio",
            "authward seen before",
        ],
        [
            [
                r["alg"],
                _f(r["raw_us"], 1),
                f"**{_f(r['first_seen_us'], 1)}**",
                _f(r["pyjwt_us"], 1),
                _f(r["joserfc_us"], 1),
                r["fastest_library"],
                f"{r['ratio_to_fastest']:.2f}",
                _f(r["seen_before_us"], 2),
            ]  # fmt: skip
            for r in rows
        ],
    )
    return text + _image("verify.png", plots, "verification cost")


def _storm_section(results: Results, plots: set[str]) -> str:
    storm = results.get("storm")
    head = "## 3–4. A login storm, and logins themselves\n\n"
    if not storm:
        return head + "Not run.\n"
    text = head + (
        f"The service (one worker, not pinned: hashing may use every core), {storm['params']}. "
        f"Logins alone: `POST /auth/token` with the right password over "
        f"{storm['login_connections']} connections for {storm['login_s']} s. Then `GET /auth/me` "
        "with a bearer token in one-second slices, alone, during the same storm, and after.\n\n"
    )
    text += _table(
        ["figure", "value"],
        [
            ["logins per second (alone)", _f(storm["logins_per_s"], 1)],
            [
                "login latency p50 / p99, ms",
                f"{_f(storm['login_p50_ms'])} / {_f(storm['login_p99_ms'])}",
            ],
            ["login errors (non-2xx, timeouts)", str(storm["login_errors"])],
            [
                "server RSS before / peak, MiB",
                f"{_f(storm['rss_before_mib'])} / {_f(storm['peak_rss_mib'])}",
            ],
            ["logins per second during the timeline's storm", _f(storm["storm_logins_per_s"], 1)],
            [
                "/auth/me req/s alone → during the storm",
                f"{_f(storm['alone_rps'])} → {_f(storm['storm_rps'])}",
            ],
            [
                "/auth/me p99 alone → during the storm, ms",
                f"{_f(storm['alone_p99_ms'], 1)} → {_f(storm['storm_p99_ms'], 1)}",
            ],
        ],
    )
    return text + _image("storm.png", plots, "login storm timeline")


def _scale_section(results: Results, plots: set[str]) -> str:
    scale, sweep = results.get("scale"), results.get("sweep")
    head = "## 5. A million sessions\n\n"
    if not scale and not sweep:
        return head + "Not run.\n"
    text = head + (results.get("meta", {}).get("scale_note", "") + "\n\n")
    if scale:
        text += _table(
            [
                "store",
                "sessions (small)",
                "µs/check",
                "sessions (large)",
                "µs/check",
                "ratio",
                "bulk seed, s",
            ],
            [
                [
                    r["backend"],
                    _f(r["small"]),
                    _f(r["small_us"]),
                    _f(r["large"]),
                    _f(r["large_us"]),
                    f"{r['large_us'] / r['small_us']:.2f}×",
                    _f(r["seed_s"]),
                ]
                for r in scale
            ],
        )
    if sweep:
        text += "\n" + _table(
            [
                "store",
                "run",
                "expired",
                "removed",
                "sweep, s",
                "removed/s",
                "p99 quiet, ms",
                "p99 during, ms",
                "ratio",
                "req/s quiet → during",
                "errors",
            ],
            [
                [
                    r["backend"],
                    str(r.get("run", 1)),
                    _f(r["expired"]),
                    _f(r["removed"]) if r.get("removed", -1) >= 0 else "–",
                    _f(r["sweep_s"], 1) + ("" if r["finished"] else " (stopped)"),
                    _f(r["removed"] / r["sweep_s"]) if r.get("removed", -1) >= 0 else "–",
                    _f(r.get("p99_quiet_ms", r.get("p99_before_ms")), 2),
                    _f(r["p99_during_ms"], 2),
                    _sweep_ratio(r),
                    f"{_f(r.get('rps_quiet', r.get('rps_before')))} → {_f(r['rps_during'])}",
                    str(r["errors"]),
                ]  # fmt: skip
                for r in sweep
            ],
        )
    for skipped in results.get("scale_skipped", []):
        text += f"\n- {skipped}\n"
    return text + _image("scale.png", plots, "session checks and sweeps at scale")


def _propagation_section(results: Results) -> str:
    head = "## Revocation propagation\n\n"
    output = results.get("propagation")
    if not output:
        return head + (results.get("propagation_note") or "Not run.") + "\n"
    return head + results.get("propagation_note", "") + "\n\n```\n" + output.strip() + "\n```\n"


def _storereads_section(results: Results) -> str:
    head = "## A session check's store read (issue 19, target 2)\n\n"
    reads = results.get("storereads")
    if not reads:
        return head + "Not measured in this run.\n"
    import storereads

    rows = [storereads.Row(**row) for row in reads["rows"]]
    low, high = reads["load"]
    return (
        head + "`benchmarks/storereads.py`: `SessionService.resume` with no session cache, one "
        "process, each store's check against the same check on a memory store (no read), "
        "cases taking turns round after round; *before* is the read as it was before issue "
        "19's work, *after* the store's own `get`; a *floor* is the trip alone. "
        f"Load {low:.2f} at start, {high:.2f} at end.\n\n" + storereads.markdown(rows) + "\n"
    )


def _login_floor_section(results: Results) -> str:
    head = "## Logins at the hashing floor\n\n"
    floor = results.get("login_floor")
    if not floor:
        return head + "Not run.\n"
    import login_floor

    lines = login_floor.summary_text(floor)
    return head + "`benchmarks/login_floor.py`:\n\n```\n" + lines + "\n```\n"


def _scaleout_section(results: Results) -> str:
    head = "## Workers, nodes and sizing\n\n"
    found = results.get("scaleout")
    if not found:
        return head + "Not run.\n"
    import scaleout

    text = head + "`benchmarks/scaleout.py`: `GET /auth/me` through `authward serve`.\n\n"
    if workers := found.get("workers"):
        text += (
            _table(
                ["route", "1 worker, req/s", "2 workers, req/s", "second worker's share"],
                [
                    [route, _f(row["rps_1"]), _f(row["rps_2"]), f"{row['second_share']:.2f}"]
                    for route, row in workers["routes"].items()
                ],
            )
            + "\n"
        )
    if nodes := found.get("nodes"):
        text += (
            _table(
                ["route", "one node alone, req/s", "three together, req/s", "smallest share"],
                [
                    [
                        route,
                        _f(row["alone_rps"]),
                        _f(row["together_rps"]),
                        f"{row['min_share']:.2f}",
                    ]
                    for route, row in nodes["routes"].items()
                ],
            )
            + "\n"
        )
    if sizing := results.get("sizing"):
        text += scaleout.sizing_table(sizing) + "\n"
    return text


def _passwords_section(results: Results) -> str:
    head = "## Password checks\n\n"
    passwords = results.get("passwords")
    if not passwords:
        return head + "Not run.\n"
    common = passwords["common_list"]
    text = head + (
        f"`benchmarks/password_costs.py`: one argon2id verification, the median of "
        f"{passwords['repeats']} on one thread, at each parameter set; the common-password "
        "list's first load in a fresh process, the resident memory it added, and one check "
        "once loaded.\n\n"
    )
    text += _table(
        ["parameters", "t", "MiB", "p", "one verification, ms"],
        [
            [f"{h['label']}" + (f" ({h['role']})" if h["role"] else ""), str(h["time_cost"]),
             f"{h['memory_mib']:g}", str(h["parallelism"]), _f(h["verify_ms"], 1)]
            for h in passwords["hashes"]
        ],
    )  # fmt: skip
    return text + (
        f"\nThe common list ({common['words']:,.0f} passwords): first load "
        f"{common['load_s']:.2f} s, {common['rss_mib']:.1f} MiB resident, "
        f"{common['check_us']:.2f} µs a check.\n"
    )


def _enumeration_section(results: Results) -> str:
    head = "## Does an answer's timing tell whether an email has an account?\n\n"
    output = results.get("enumeration")
    if not output:
        return head + "Not run.\n"
    return head + "`benchmarks/enumeration.py` run as is:\n\n```\n" + output.strip() + "\n```\n"


def _notes(meta: dict[str, Any]) -> str:
    notes = meta.get("notes", [])
    if not notes:
        return ""
    return "## Notes\n\n" + "\n".join(f"- {n}" for n in notes) + "\n"
