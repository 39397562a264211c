"""`make bench` and `authward bench` keep working: their pure-Python parts, run quickly.

Nothing here times anything or asserts a figure: the benchmarks report ratios and flag
missed targets themselves. This only makes sure the harness cannot rot unnoticed.
"""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from authward.cli.bench import BARE, DIRECT, PROTECTED, bench_app, make_fixture
from authward.cli.loadgen import Load, parse_wrk
from authward.cli.main import app
from tests.conftest import CHEAP_ARGON2, TEST_SECRET

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"

WRK_OUTPUT = """Running 2s test @ http://127.0.0.1:8101/bench/bare
  1 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     5.60ms    1.37ms  21.85ms   88.51%
    Req/Sec     5.77k   325.66     6.18k    85.00%
  Latency Distribution
     50%    5.31ms
     75%    5.85ms
     90%    6.77ms
     99%   11.06ms
  11486 requests in 2.00s, 1.71MB read
  Non-2xx or 3xx responses: 3
Requests/sec:   5737.56
Transfer/sec:    874.01KB
"""


def test_quick_mode_pure_python_parts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    monkeypatch.chdir(tmp_path)
    import anyio
    import loads
    import report
    import run
    import throughput
    import verify
    from joserfc.errors import SecurityWarning

    # wrk's summary, read back
    parsed = parse_wrk(WRK_OUTPUT, 2)
    assert (parsed.requests, parsed.errors, parsed.p99_ms) == (11486, 3, 11.06)

    # target 2, quick: authward, PyJWT, joserfc and the raw paths verify one another's tokens
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SecurityWarning)
        row = anyio.run(verify.measure_algorithm, "HS256", 1, 0.5, True)
    assert row.alg == "HS256" and row.first_seen_us > 0

    # every configuration of target 1 builds, and the ratios come out of paired rounds
    configs = throughput.configs(tmp_path, "redis://127.0.0.1:1/0", "5")
    assert any(c.target for c in configs) and any(c.app == "fastapi-users-db" for c in configs)
    carrying = throughput.carried_by("JWT")
    runs = {
        "bare": [Load(1000, 1.0, 1, 2, 0, "wrk"), Load(900, 1.0, 1, 2, 0, "wrk")],
        "JWT": [Load(800, 1.0, 1, 3, 0, "wrk"), Load(810, 1.0, 1, 3, 0, "wrk")],
        carrying: [Load(950, 1.0, 1, 2, 0, "wrk"), Load(850, 1.0, 1, 2, 0, "wrk")],
    }
    cpu = {"bare": [100, 100], "JWT": [125, 120], carrying: [105, 105]}
    comparison = loads.Comparison("c", list(runs), runs, "wrk", cpu)
    assert comparison.ratio("JWT", "bare") == pytest.approx((0.8 + 0.9) / 2)
    http_rows = throughput.HttpResult(configs[0], comparison).rows()

    # the report, from results shaped as run.py collects them (plots only with matplotlib)
    environment = run.environment(run.Plan(True, run.STAGES, tmp_path), 0.0)
    results = {
        "meta": {"environment": environment, "notes": ["a note"]},
        "verify": [{**vars(row), "met": row.met}],
        "http": http_rows,
    }
    page = report.write(results, tmp_path / "report")
    text = page.read_text()
    assert "## Targets" in text and "HS256" in text and "## 3–4. A login storm" in text
    [target] = [t for t in report.targets(results) if t["target"].startswith("1.")]
    assert target["met"] is True  # JWT at 0.85× of bare (the baseline is no target)
    assert "against bare, carrying the token: 0.90×" in target["value"]  # 800/950, 810/850
    json.dumps(results, default=str)  # what results.json holds
    assert sys.modules["tokens"].__file__ == str(BENCHMARKS / "tokens.py")


def test_authward_bench_quick_without_http(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AUTHWARD_SECRET_KEY", TEST_SECRET)
    for name, value in CHEAP_ARGON2.items():
        monkeypatch.setenv(f"AUTHWARD_{name.upper()}", str(value))
    result = CliRunner().invoke(app, ["bench", "--quick", "--no-http"])
    assert result.exit_code == 0, result.output
    for expected in ("EdDSA", "ES256", "RS256", "HS256", "Session check", "login"):
        assert expected in result.output


async def test_authward_bench_app_answers_both_forms_of_current_user_alike(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUTHWARD_DATABASE_URL", f"sqlite:///{tmp_path}/bench.db")
    monkeypatch.setenv("AUTHWARD_SECRET_KEY", TEST_SECRET)
    monkeypatch.setenv("AUTHWARD_INSECURE_COOKIES", "true")
    for name, value in CHEAP_ARGON2.items():
        monkeypatch.setenv(f"AUTHWARD_{name.upper()}", str(value))
    app = bench_app()
    async with app.router.lifespan_context(app):
        fixture = await make_fixture(app.state.authward_runtime)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            assert (await client.get(BARE)).status_code == 200
            for path in (PROTECTED, DIRECT):
                assert (await client.get(path)).status_code == 401
                by_token = await client.get(
                    path, headers={"Authorization": f"Bearer {fixture.access_token}"}
                )
                by_cookie = await client.get(
                    path, headers={"Cookie": f"authward_session={fixture.session_id}"}
                )
                assert by_token.json() == by_cookie.json() == {"id": fixture.user.id}


def test_enumeration_summary_gives_both_medians_and_their_ratio(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import enumeration

    line = enumeration.summarize("forgot", [0.004, 0.006, 0.005], [0.002, 0.003, 0.0025])
    assert "existing     5.00 ms" in line and "unknown     2.50 ms" in line
    assert "ratio 2.000" in line and "(n=3 each)" in line


def test_login_floor_hashes_and_summarizes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import login_floor
    from login_floor import FloorResult, Rate

    # the floor itself: every thread verifies, every hash begun is counted
    rate = login_floor.raw_hashing(1, 8, 1, 2, 0.05)
    assert rate.per_s > 0 and rate.cpu_ms >= 0

    result = FloorResult("argon2id t=1", 2, 8, 1.0, load=[0.5, 0.7])
    result.floor = [Rate(10.0, 200.0), Rate(8.0, 210.0), Rate(12.0, 190.0)]
    result.floor_nice = [Rate(5.0, 200.0), Rate(4.0, 200.0), Rate(6.0, 200.0)]
    result.logins = {"token": [Rate(9.0, 220.0), Rate(8.0, 230.0), Rate(6.0, 240.0, 1)]}
    summary = result.summary()
    token = summary["routes"]["token"]
    # per-round ratios 0.9, 1.0, 0.5: the median is the round's, not a ratio of medians
    assert token["ratio"] == pytest.approx(0.9) and token["met"] is True
    assert token["ratio_nice"] == pytest.approx(1.8) and token["errors"] == 1
    assert summary["floor_per_s"] == 10.0
    text = login_floor.summary_text(summary)
    assert "0.900x of the floor (met)" in text and "load 0.50-0.70" in text
    json.dumps(summary)  # results.json takes it as it is


def test_sizing_table_from_measured_unit_costs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import scaleout

    ops = ("session check", "token login", "refresh")
    redis = {"Redis commands": 1.0, "Redis bytes": 1000.0, "PostgreSQL transactions": 0.0}
    redis["PostgreSQL rows written"] = 0.0
    sizing = {
        "unit_costs": [
            {"config": "SQLite", "per": {op: {"node write calls": 2.0} for op in ops}},
            {"config": "PostgreSQL + Redis", "per": {op: dict(redis) for op in ops}},
        ],
        "footprint": [{"store": "Redis", "sessions": 1000, "bytes_per_session": 1024.0}],
    }
    table = scaleout.sizing_table(sizing)
    assert "| node write calls | SQLite | 2.00 | 2.00 | 2.00 |" in table
    assert "| memory | Redis | 1,024 B | 977 MiB | 9.5 GiB |" in table
    # 50,000 checks + 0.2% logins + 2% refreshes, one Redis command each
    assert "| Redis commands | 51,100 |" in table
    assert "| requests per node | 5,000 |" in table
    assert "PostgreSQL rows read" not in table  # no PostgreSQL-only row was measured


def test_the_report_gives_the_floor_workers_nodes_and_sizing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import report
    from login_floor import FloorResult, Rate

    floor = FloorResult("argon2id t=1", 2, 8, 1.0, load=[0.5, 0.7])
    floor.floor, floor.floor_nice = [Rate(10.0, 200.0)], [Rate(8.0, 200.0)]
    floor.logins = {"session": [Rate(8.5, 220.0)]}
    one_route = {"rps_1": 1000.0, "rps_2": 1900.0, "second_share": 0.9}
    together = {"alone_rps": 1000.0, "together_rps": 2400.0, "min_share": 0.7}
    results = {
        "login_floor": floor.summary(),
        "scaleout": {
            "workers": {"routes": {"token": one_route}},
            "nodes": {"routes": {"token": {**together, "total_over_alone": 2.4}}},
        },
        "sizing": {"unit_costs": [], "footprint": []},
    }
    verdicts = {t["target"]: t["met"] for t in report.targets(results)}
    assert verdicts["5. token: a second worker adds ≥ 0.85 of the first's req/s"] is True
    assert (
        verdicts["6. session logins ≥ 0.90× argon2id alone, same parameters and concurrency"]
        is False
    )
    page = report.write(results, tmp_path).read_text()
    assert "## Logins at the hashing floor" in page and "0.850x of the floor" in page
    assert "| token | 1,000 | 1,900 | 0.90 |" in page and "| token | 1,000 | 2,400 | 0.70 |" in page


def test_sweep_p99_in_slices_quiet_ones_against_the_sweeps(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import scale

    recorder = scale.Recorder("http://127.0.0.1:1/", {}, connections=1)
    # 100 requests a second for 24 s at 1 ms, one 50 ms stall in the second 8 s slice
    recorder.samples = [(i / 100, 0.001, True) for i in range(2400)]
    recorder.samples[1000] = (10.0, 0.050, True)
    slices = recorder.slices(0.0, 24.0, 8.0)
    assert len(slices) == 3 and slices[0] == slices[2] == pytest.approx(1.0)
    sweep = scale.SweepCost("Redis", 1, 1000, 400, 20.0, 1.0, 1.5, 1.0, 1.0, 0, False)
    assert sweep.ratio == pytest.approx(1.5) and sweep.per_s == pytest.approx(20.0)


def test_the_redis_sweep_target_needs_three_finished_runs_within_the_ratio(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import report

    def run(number: int, ratio: float, *, finished: bool = True) -> dict[str, object]:
        return {
            "backend": "Redis", "run": number, "expired": 1000, "removed": 1000 if finished
            else 400, "sweep_s": 50.0, "p99_quiet_ms": 2.0, "p99_during_ms": 2.0 * ratio,
            "ratio": ratio, "finished": finished,
        }  # fmt: skip

    def verdict(*runs: dict[str, object]) -> tuple[str, object]:
        rows = report.targets({"sweep": list(runs)})
        (row,) = [r for r in rows if r["target"].startswith("7. Redis")]
        return row["value"], row["met"]

    value, met = verdict(run(1, 1.05), run(2, 1.10), run(3, 0.98))
    assert met is True and "run 2: 1.10×, done in 50 s, 20/s" in value
    assert verdict(run(1, 1.05), run(2, 1.25), run(3, 0.98))[1] is False
    assert verdict(run(1, 1.05), run(2, 1.10))[1] is False  # two runs do not make three
    value, met = verdict(run(1, 1.05), run(2, 1.10), run(3, 0.98, finished=False))
    assert met is False and "not done after 50 s: 40% removed, 8/s" in value


def test_password_costs_measure_every_parameter_set_and_the_common_list(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import password_costs

    figures = password_costs.run(repeats=1)
    hashes = figures["hashes"]
    assert isinstance(hashes, list) and [h["time_cost"] for h in hashes] == [3, 2, 1]
    assert all(h["verify_ms"] > 0 for h in hashes)
    common = figures["common_list"]
    assert isinstance(common, dict) and common["words"] == 30_000 and common["check_us"] > 0


def test_the_report_holds_each_store_read_to_its_target(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import report
    import storereads

    def check(added: float, store: str) -> dict[str, float]:
        goal = storereads.TARGET_ADDED_US[store]
        return {"added_us": added, "cpu_added_us": added / 2, "goal_us": goal,
                "after_over_before": 0.4}  # fmt: skip

    row = storereads.Row("Redis", storereads.SESSION_CHECK, 160.0, 150.0, 0.4, 90.0)
    results = {
        "storereads": {
            "rows": [vars(row)],
            "checks": {
                "SQLite": check(101, "SQLite"),  # just over 100 µs: missed
                "PostgreSQL": check(300, "PostgreSQL"),  # the goal exactly: met
                "Redis": check(150, "Redis"),
            },
            "load": [0.5, 0.7],
        }
    }
    verdicts = {t["target"].split(":")[0]: t["met"] for t in report.targets(results)}
    assert verdicts == {"2b. SQLite": False, "2b. PostgreSQL": True, "2b. Redis": True}
    section = report._storereads_section(results)
    assert "Load 0.50 at start, 0.70 at end" in section
    assert "| Redis | after: session check | 160.0 | 150.0 | 0.40× | 90.0 |" in section


def test_depcost_reads_each_cases_instructions_from_the_dumps(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Dump 1 is the start-up, then a batch and an idle stretch by turns, cases in order."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import depcost

    order = ["bare", "bare", "no-op Depends, token header", "no-op Depends, token header"]
    (tmp_path / "order.txt").write_text(f"noise\n{depcost.MARK}{'|'.join(order)}\n")
    batches = [100, 120, 300, 340]  # instructions of each batch, in the order run
    totals = [9_999]  # start-up
    for batch in batches:
        totals += [batch * depcost.PER_MARK, 7_777]  # the batch, then the pause after it
    for number, total in enumerate(totals, start=1):
        (tmp_path / f"callgrind.out.42.{number}").write_text(f"events: Ir\ntotals: {total}\n")
    (tmp_path / "callgrind.out.42").write_text("totals: 1\n")  # the last, at exit: not read
    assert depcost.read_dumps(tmp_path) == {"bare": 110.0, "no-op Depends, token header": 320.0}
