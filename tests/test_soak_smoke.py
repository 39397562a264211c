"""benchmarks/soak.py keeps working: a few clients for a few seconds, every answer checked.

The real runs (200 clients, 10 minutes) and their figures are in benchmarks/README.md;
this only keeps the harness (its HTTP client, its checks) from rotting unnoticed.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SOAK = Path(__file__).resolve().parent.parent / "benchmarks" / "soak.py"


def test_a_short_soak_completes_flows_without_errors() -> None:
    result = subprocess.run(  # noqa: S603 - our own script, on loopback
        [sys.executable, str(SOAK), "soak", "--clients", "4", "--duration", "3", "--warmup", "1"],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    lines = result.stdout.splitlines()
    assert "errors            0" in lines, result.stdout + result.stderr
    completed = next(line for line in lines if line.startswith("flows completed"))
    assert int(completed.split()[2]) > 0
    assert any(line.startswith("server RSS") for line in lines)
