"""One source of figures: the docs' measured numbers are the bench report's, and agree with it.

`benchmarks/figures.py` writes every marked block of README.md and docs/*.md from
``bench-report/results.json``; these tests fail when a doc and that file disagree, when a
block has no render function, and when a page of the package states a measured figure
(the installed package cannot read the report, so `/how` points to `authward bench`).
"""

from __future__ import annotations

import inspect
import re
import statistics
from pathlib import Path
from types import ModuleType

import pytest

from authward.web.pages.comparison import ASPECTS
from authward.web.pages.render import TEMPLATES_DIR

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = ROOT / "benchmarks"
# A number with a unit of measurement: what /how must not state.
MEASURED = re.compile(r"\d\s*(?:µs|ms\b|req/s|requests per second|×|%)")


@pytest.fixture
def figures(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import figures

    return figures


def test_every_doc_agrees_with_the_committed_results_json(figures: ModuleType) -> None:
    results = figures.load(ROOT / "bench-report" / "results.json")
    assert results["meta"]["environment"]["mode"] == "full"  # never a --quick run's figures
    marked = [p for p in figures.documents() if figures.MARKED.search(p.read_text())]
    assert {p.name for p in marked} >= {"README.md", "choosing.md", "deployment.md"}
    stale = [str(p.relative_to(ROOT)) for p in figures.stale(results)]
    assert stale == [], f"run `python benchmarks/figures.py`: {stale} disagree with results.json"


def test_blocks_are_written_inline_and_on_lines_of_their_own(
    figures: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(figures.BLOCKS, "one", lambda r: f"{r['x']['v']:.2f}×")
    monkeypatch.setitem(figures.BLOCKS, "table", lambda r: f"| a |\n|---|\n| {r['x']['v']} |")
    (tmp_path / "docs").mkdir()
    doc = tmp_path / "docs" / "page.md"
    doc.write_text(
        "It is <!-- figures: one -->0.50×<!-- /figures --> now.\n\n"
        "<!-- figures: table -->\nold\n<!-- /figures -->\n"
    )
    (tmp_path / "README.md").write_text("No figures.\n")
    results = {"x": {"v": 0.8125}}
    assert figures.rewrite(results, tmp_path) == [doc]
    assert doc.read_text() == (
        "It is <!-- figures: one -->0.81×<!-- /figures --> now.\n\n"
        "<!-- figures: table -->\n| a |\n|---|\n| 0.8125 |\n<!-- /figures -->\n"
    )
    assert figures.stale(results, tmp_path) == []
    doc.write_text(doc.read_text().replace("0.81×", "0.82×"))  # a hand-edited figure
    assert figures.stale(results, tmp_path) == [doc]


def test_a_block_that_cannot_be_written_is_an_error(figures: ModuleType) -> None:
    with pytest.raises(figures.FiguresError, match="no render function"):
        figures.fill("<!-- figures: nothing-like-it --><!-- /figures -->", {})
    with pytest.raises(figures.FiguresError, match="has no 'sweep'"):
        figures.fill("<!-- figures: sweep --><!-- /figures -->", {"meta": {}})
    with pytest.raises(figures.FiguresError, match="several lines"):
        figures.fill("| <!-- figures: propagation --><!-- /figures --> |", {"propagation_rows": [
            {"mode": "redis", "what": "token revocation", "n": 2, "p50_ms": 1.0, "p90_ms": 2.0,
             "p99_ms": 3.0, "max_ms": 3.0}
        ]})  # fmt: skip


def test_propagation_output_is_read_back_into_figures(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import propagation

    output = (
        "40 rounds, 3 nodes; samples are per receiving node, from the 204\n"
        "postgres     token revocation           n=80    p50=    9.9 ms  p90=   19.0 ms  "
        "p99=   80.2 ms  max=   95.0 ms\n"
        "postgres     (one polling GET takes 3.7 ms at the median; "
        "AUTHWARD_REVOCATION_POLL_INTERVAL=1 s)\n"
    )
    assert propagation.parse(output) == [
        {
            "mode": "postgres",
            "what": "token revocation",
            "n": 80,
            "p50_ms": 9.9,
            "p90_ms": 19.0,
            "p99_ms": 80.2,
            "max_ms": 95.0,
        }
    ]


def test_the_how_page_states_no_measured_figure() -> None:
    # The package cannot read bench-report/, and a figure of the machine that built it
    # says nothing of the one it runs on: /how names `authward bench` instead.
    texts = [text for aspect in ASPECTS for text in vars_of(aspect)]
    texts.append((TEMPLATES_DIR / "how.html").read_text())
    assert [MEASURED.findall(text) for text in texts] == [[] for _ in texts]
    assert "authward bench" in texts[-1]


def vars_of(aspect: object) -> list[str]:
    return [getattr(aspect, name) for name in ("name", "sessions", "jwt", "authward")]


def test_the_bench_measures_the_readme_app_as_written(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import apps

    readme = (ROOT / "README.md").read_text()
    [code] = [c for c in re.findall(r"```python\n(.*?)```", readme, re.DOTALL) if "/notes" in c]
    source = inspect.getsource(apps.readme_app)
    lines = [line.split("#")[0].strip() for line in code.splitlines()]
    app_lines = [line for line in lines if line and not line.startswith(("from ", "import "))]
    assert len(app_lines) >= 6
    for line in app_lines:
        assert line in source, f"the README's {line!r} is not what make bench measures"


def test_the_headline_pairs_like_with_like_and_gives_each_verdict(
    figures: ModuleType,
) -> None:
    import throughput

    def row(config: str, route: str, rps: float, ratio: float) -> dict[str, object]:
        return {"config": config, "route": route, "rps": rps, "ratio": ratio,
                "cpu_ratio": ratio, "cpu_us": 1e6 / rps}  # fmt: skip

    loads = throughput.LOADS.format(route="JWT")
    http = [
        row(throughput.README, "JWT", 800, 0.81),
        row(throughput.README, loads, 600, 0.6),
        row(throughput.SERVICE, "/auth/me JWT", 500, 0.59),
        row(throughput.PEER_JWT, loads, 200, 0.1),  # 600 / 200: 3.00×, the goal exactly
        row(throughput.PEER_DB, throughput.LOADS.format(route="database token"), 100, 0.1),
    ]
    lines = figures.BLOCKS["headline"]({"http": http}).splitlines()[2:]
    assert [line.split(" | ")[0] for line in lines] == ["| 1", "| 3", "| 4"]
    assert ["✅ met" in line for line in lines] == [True, False, True]
    assert "`current_account` by JWT (account cache on)" in lines[2]
    assert "fastapi-users' `current_user` by JWT" in lines[2] and "**3.00×**" in lines[2]


def test_target_one_holds_depends_to_its_floor_and_the_awaited_form_to_bare(
    figures: ModuleType,
) -> None:
    import throughput

    def row(route: str, rounds: list[list[float]]) -> dict[str, object]:
        ratio = statistics.median(p / b for b, p in rounds)
        return {"config": throughput.README, "route": route, "rps": rounds[0][1],
                "ratio": ratio, "cpu_ratio": ratio, "cpu_us": 1e6 / rounds[0][1],
                "rounds": rounds}  # fmt: skip

    direct = throughput.DIRECT.format(route="session")
    http = [
        # 0.72× bare, but 0.72 / 0.78 = 0.92× of the floor measured beside it: met.
        row("JWT", [[1000, 720], [1000, 720], [1000, 720]]),
        # 0.68 / 0.78 = 0.87× of the floor: missed, though the same bare ratio as above
        # would have been met against a floor of 0.75.
        row("session", [[1000, 680], [1000, 680], [1000, 680]]),
        row(direct, [[1000, 790], [1000, 790], [1000, 790]]),  # awaited: 0.79× bare, missed
        row(throughput.FLOOR_ROUTE, [[1000, 780], [1000, 780], [1000, 780]]),
    ]
    lines = figures.BLOCKS["headline"]({"http": http}).splitlines()[2:]
    assert ["✅ met" in line for line in lines] == [True, False, False]
    assert "against the no-op Depends on the same server" in lines[0]
    assert "**0.92×**" in lines[0]
    assert "**0.87×**" in lines[1]
    assert "`await auth.current_user(request)` by session against the same app's bare" in lines[2]
    # The targets table judges the rows it marks as targets the same way.
    marked = [{**r, "target": r["route"] != throughput.FLOOR_ROUTE} for r in http]
    verdicts = {t["target"]: t["met"] for t in figures.report.targets({"http": marked})}
    assert verdicts == {
        f"1. JWT ≥ 0.90× the no-op Depends on the same server ({throughput.README})": True,
        f"1. session ≥ 0.90× the no-op Depends on the same server ({throughput.README})": False,
        f"1. {direct} ≥ 0.80× bare ({throughput.README})": False,
    }
