"""Does an answer's timing tell whether an email has an account? Measured over real HTTP.

    .venv/bin/python benchmarks/enumeration.py
    .venv/bin/python benchmarks/enumeration.py --rounds 100 --pause 0.3

Starts `authward serve` (SQLite in a scratch folder, ``AUTHWARD_EMAIL_VERIFICATION=
required``, argon2id at its defaults), makes one account, then times, round by round:

* ``POST /auth/password/forgot`` for the account's email and for an unknown one;
* ``POST /auth/register`` (``required`` mode: 202 for a new and a taken email alike) for
  the account's email and for a new one.

Within a round the two emails go in a random order, so drift in the machine's load falls
on both alike; a pause follows every request, so the work a request leaves for after its
answer (a lookup, a mail, a password hash) is not timed into the next one. Every answer
is checked to be the same status and body. It prints each median, the ratio of the
medians (existing / unknown) and the median of the per-round ratios: near 1.0 says the
timing tells nothing. Nothing asserts a figure.

Each request claims a different client address (``X-Forwarded-For``, believed from
127.0.0.1 alone) so the per-address ceilings, which would answer 429 long before the run
ends, count each request once: what is measured is the answer, not the throttle.
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

PASSWORD = "enumeration bench horse staple"


@dataclass
class Series:
    """The answer times (seconds) of one endpoint, for the existing and the unknown email."""

    name: str
    existing: list[float] = field(default_factory=list)
    unknown: list[float] = field(default_factory=list)

    def summary(self) -> str:
        return summarize(self.name, self.existing, self.unknown)


def summarize(name: str, existing: list[float], unknown: list[float]) -> str:
    """One line: both medians in ms, the ratio of the medians, the median per-round ratio."""
    known_ms = statistics.median(existing) * 1e3
    unknown_ms = statistics.median(unknown) * 1e3
    per_round = statistics.median(a / b for a, b in zip(existing, unknown, strict=True))
    return (
        f"{name:<26} existing {known_ms:8.2f} ms   unknown {unknown_ms:8.2f} ms   "
        f"ratio {known_ms / unknown_ms:5.3f}   per-round ratio {per_round:5.3f}   "
        f"(n={len(existing)} each)"
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def served() -> Iterator[str]:
    """`authward serve` on a free loopback port; its base URL once it answers."""
    with tempfile.TemporaryDirectory(prefix="authward-enum-") as home:
        port = _free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("AUTHWARD_")}
        env |= {
            "AUTHWARD_DATABASE_URL": f"sqlite:///{home}/authward.db",
            "AUTHWARD_KEY_FILE": str(Path(home) / "authward.key"),
            "AUTHWARD_EMAIL_VERIFICATION": "required",
            "AUTHWARD_TRUSTED_PROXIES": "127.0.0.1/32",
            "AUTHWARD_INSECURE_COOKIES": "1",
        }
        log = Path(home) / "server.log"
        command = [sys.executable, "-m", "authward", "serve", "--port", str(port)]
        with log.open("wb") as output:
            process = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"authward serve did not start:\n{log.read_text()}")
                try:
                    if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.1)
            yield base
        finally:
            process.terminate()
            process.wait(timeout=15)


class Client:
    """One keep-alive connection; every request from a new client address."""

    def __init__(self, base: str) -> None:
        self._http = httpx.Client(base_url=base, timeout=30)
        self._next = 0
        self.answers: set[tuple[int, bytes]] = set()

    def post(self, path: str, body: dict[str, str]) -> float:
        self._next += 1
        address = f"10.{self._next >> 16 & 255}.{self._next >> 8 & 255}.{self._next & 255}"
        started = time.perf_counter()
        response = self._http.post(path, json=body, headers={"x-forwarded-for": address})
        elapsed = time.perf_counter() - started
        self.answers.add((response.status_code, response.content))
        return elapsed

    def close(self) -> None:
        self._http.close()


def make_account(client: Client, email: str) -> None:
    """Register `email` and wait until the account exists (made after the 202)."""
    client.post("/auth/register", {"email": email, "password": PASSWORD})
    client.answers.clear()
    deadline = time.monotonic() + 30
    login = {"email": email, "password": PASSWORD}
    while time.monotonic() < deadline:
        # 403 email_not_verified: the account is there (401 while it is not yet).
        if client._http.post("/auth/session/login", json=login).status_code == 403:
            return
        time.sleep(0.1)
    raise SystemExit("the account was not created")


def measure(client: Client, series: Series, path: str, existing: str, *, pause: float) -> None:
    """One round: the existing and an unknown email, in a random order."""
    unknown = f"nobody-{secrets.token_hex(6)}@example.com"
    runs = [(existing, series.existing), (unknown, series.unknown)]
    random.shuffle(runs)
    for email, times in runs:
        body = {"email": email}
        if path == "/auth/register":
            body["password"] = PASSWORD
        times.append(client.post(path, body))
        time.sleep(pause)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=60)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument(
        "--pause", type=float, default=0.4, help="seconds after each request (background work)"
    )
    args = parser.parse_args()
    existing = "existing@example.com"
    with served() as base:
        client = Client(base)
        try:
            make_account(client, existing)
            results = []
            for name, path in (
                ("forgot-password", "/auth/password/forgot"),
                ("register (required mode)", "/auth/register"),
            ):
                series = Series(name)
                for _ in range(args.warmup):
                    measure(client, Series(name), path, existing, pause=args.pause)
                for _ in range(args.rounds):
                    measure(client, series, path, existing, pause=args.pause)
                if len(client.answers) != 1:
                    raise SystemExit(f"{name}: the answers differ: {client.answers}")
                status = next(iter(client.answers))[0]
                client.answers.clear()
                results.append(f"{series.summary()}   all {status}, one body")
        finally:
            client.close()
    print(f"rounds {args.rounds} (after {args.warmup} warm-up), pause {args.pause} s")
    for line in results:
        print(line)


if __name__ == "__main__":
    main()
