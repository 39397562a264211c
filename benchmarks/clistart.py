"""How long the ``authward`` command takes to start, here against another source tree.

    .venv/bin/python benchmarks/clistart.py                     # this tree, 15 rounds
    git worktree add /tmp/base main
    .venv/bin/python benchmarks/clistart.py --base /tmp/base    # A/B, the runs interleaved

Each case is one process, as an operator (or a test) runs it: ``python -m authward ...``
with ``PYTHONPATH`` naming the tree's ``src``, on a scratch SQLite file holding one
account (made by each tree's own ``db upgrade`` and ``users create``). Round after round,
every case runs once on each tree in turn, so a busy machine slows both alike; the figures
are medians over rounds of the wall time and of the process's CPU time (user + system,
from ``wait4``). The load average is printed at the start and the end.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
CASES: dict[str, list[str]] = {
    "--help": ["--help"],
    "users --help": ["users", "--help"],
    "users list --help": ["users", "list", "--help"],
    "config": ["config"],
    "users list": ["users", "list"],
    "sessions list": ["sessions", "list", "ada@example.com"],
}
SECRET = "clistart-" + "0123456789abcdefghijklmnopqrstuvwxyz"


def run(tree: Path, env: dict[str, str], args: list[str], stdin: str = "") -> tuple[float, float]:
    """Run ``authward ARGS`` from `tree`; its wall and CPU seconds. Fails unless it exits 0."""
    started = time.perf_counter()
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
        [sys.executable, "-m", "authward", *args],
        env={**env, "PYTHONPATH": str(tree / "src")},
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    assert process.stdin is not None and process.stderr is not None
    process.stdin.write(stdin.encode())
    process.stdin.close()
    errors = process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"authward {' '.join(args)} ({tree}): {errors.decode()}")
    return wall, usage.ru_utime + usage.ru_stime


def scratch_env(tree: Path, directory: Path) -> dict[str, str]:
    """The environment of `tree`'s runs: a SQLite file of its own, with one account."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("AUTHWARD_")}
    env = {
        **base,
        "AUTHWARD_DATABASE_URL": f"sqlite:///{directory / 'cli.db'}",
        "AUTHWARD_KEY_FILE": str(directory / "authward.key"),
        "AUTHWARD_SECRET_KEY": SECRET,
        "AUTHWARD_ARGON2_TIME_COST": "1",
        "AUTHWARD_ARGON2_MEMORY_KIB": "8",
        "AUTHWARD_ARGON2_PARALLELISM": "1",
    }
    run(tree, env, ["db", "upgrade"])
    run(tree, env, ["users", "create", "ada@example.com", "--password-stdin"], "a good pw 1\n")
    return env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", type=Path, help="another source tree (holding src/)")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    options = parser.parse_args()
    trees = {"this": HERE} | ({"base": options.base.resolve()} if options.base else {})
    print(f"load at start: {os.getloadavg()}  cpus: {os.cpu_count()}")
    with tempfile.TemporaryDirectory(prefix="authward-clistart-") as scratch:
        envs = {}
        for name, tree in trees.items():
            (Path(scratch) / name).mkdir()
            envs[name] = scratch_env(tree, Path(scratch) / name)
        samples: dict[str, dict[str, list[tuple[float, float]]]] = {
            case: {name: [] for name in trees} for case in CASES
        }
        for _ in range(options.rounds):
            for case, args in CASES.items():
                for name, tree in trees.items():
                    samples[case][name].append(run(tree, envs[name], args))
    print(f"load at end:   {os.getloadavg()}  rounds: {options.rounds}")
    figures = {
        case: {
            name: {
                "wall_s": statistics.median(w for w, _ in runs),
                "cpu_s": statistics.median(c for _, c in runs),
            }
            for name, runs in by_tree.items()
        }
        for case, by_tree in samples.items()
    }
    header = "".join(f" | {name} wall s | {name} CPU s" for name in trees)
    print(f"| case{header} |")
    print("|---" * (1 + 2 * len(trees)) + "|")
    for case, by_tree in figures.items():
        cells = "".join(f" | {f['wall_s']:.3f} | {f['cpu_s']:.3f}" for f in by_tree.values())
        print(f"| `authward {case}`{cells} |")
    if options.json:
        options.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
