"""What a password check costs: argon2id at three parameter sets, and the common list.

The figures docs/mfa.md and docs/security.md give, measured in `make bench`'s run:

* one argon2id verification (median of `repeats`, one thread) at the password's
  parameters (RFC 9106 low memory, argon2-cffi's profile, as `PasswordHasher` uses), at
  the recovery codes' (`authward.factors.recovery.PARAMETERS`) and at t=1, 8 MiB, p=1;
* the common-password list (`authward.accounts.blocklist`): how long its first load takes
  and how much resident memory it adds, in a fresh process (as a worker pays it once),
  and one check against it once loaded.

    .venv-bench/bin/python benchmarks/password_costs.py
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass

from argon2 import Parameters, PasswordHasher
from argon2.profiles import RFC_9106_LOW_MEMORY

from authward.factors.recovery import PARAMETERS as RECOVERY

PASSWORD = "correct horse battery"
TESTING = Parameters(
    type=RECOVERY.type,
    version=RECOVERY.version,
    salt_len=16,
    hash_len=32,
    time_cost=1,
    memory_cost=8192,
    parallelism=1,
)

# Run in a fresh process: the list's load and the memory it keeps, then one check.
LIST_PROBE = """
import json, time
from pathlib import Path
from authward.accounts.blocklist import CommonPasswords

def rss_kib():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS"):
            return int(line.split()[1])
    return 0

words = CommonPasswords()
before = rss_kib()
started = time.perf_counter()
loaded = words._loaded()
load_s = time.perf_counter() - started
after = rss_kib()
rounds = []
for _ in range(15):
    started = time.perf_counter()
    for _ in range(10_000):
        "Correct-Horse-Battery".lower() in loaded
    rounds.append((time.perf_counter() - started) / 10_000)
rounds.sort()
print(json.dumps({"load_s": load_s, "rss_mib": (after - before) / 1024,
                  "check_us": rounds[len(rounds) // 2] * 1e6, "words": len(loaded)}))
"""


@dataclass
class HashCost:
    label: str  # the parameters' name
    role: str  # what authward hashes with them ("" for none)
    time_cost: int
    memory_mib: float
    parallelism: int
    verify_ms: float  # median of the repeats


def hash_costs(repeats: int) -> list[HashCost]:
    sets = [
        ("RFC 9106 low memory", "the password's", RFC_9106_LOW_MEMORY),
        ("OWASP minimum", "the recovery codes'", RECOVERY),
        ("the tests' cost", "", TESTING),
    ]
    out = []
    for label, role, params in sets:
        hasher = PasswordHasher.from_parameters(params)
        stored = hasher.hash(PASSWORD)
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            hasher.verify(stored, PASSWORD)
            times.append(time.perf_counter() - started)
        out.append(
            HashCost(
                label,
                role,
                params.time_cost,
                params.memory_cost / 1024,
                params.parallelism,
                statistics.median(times) * 1000,
            )
        )
    return out


def common_list() -> dict[str, float]:
    done = subprocess.run(  # noqa: S603 - this interpreter, our own script
        [sys.executable, "-c", LIST_PROBE], capture_output=True, text=True, check=True
    )
    figures: dict[str, float] = json.loads(done.stdout)
    return figures


def run(*, repeats: int) -> dict[str, object]:
    """Everything the stage measures, as results.json keeps it under ``passwords``."""
    return {
        "repeats": repeats,
        "hashes": [asdict(cost) for cost in hash_costs(repeats)],
        "common_list": common_list(),
    }


if __name__ == "__main__":
    print(json.dumps(run(repeats=5), indent=1))
