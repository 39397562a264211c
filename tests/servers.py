"""Start real `authward serve` processes on free loopback ports, for end-to-end tests."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx

from authward.cli.loadgen import free_port

CHEAP_ARGON2_ENV = {
    "AUTHWARD_ARGON2_TIME_COST": "1",
    "AUTHWARD_ARGON2_MEMORY_KIB": "8",
    "AUTHWARD_ARGON2_PARALLELISM": "1",
}


@contextmanager
def running_server(
    workdir: Path,
    env: Mapping[str, str] | None = None,
    *,
    args: tuple[str, ...] = (),
    umask: int = -1,
) -> Iterator[str]:
    """Run `authward serve` in `workdir` until the block ends; yield its base URL.

    `umask`, when given, is the server's (else it inherits this process's).
    """
    port = free_port()
    full_env = {
        **os.environ,
        "AUTHWARD_DATABASE_URL": f"sqlite:///{workdir}/authward.db",
        "AUTHWARD_KEY_FILE": str(workdir / "authward.key"),
        **CHEAP_ARGON2_ENV,
        **(env or {}),
    }
    log = (workdir / f"server-{port}.log").open("wb")
    process = subprocess.Popen(  # noqa: S603 - our own entry point
        [sys.executable, "-m", "authward", "serve", "--port", str(port), *args],
        cwd=workdir,
        env=full_env,
        stdout=log,
        stderr=subprocess.STDOUT,
        umask=umask,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base, process, workdir / f"server-{port}.log")
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def wait_until_up(
    base: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 30
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {log.read_text(errors='replace')}")
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"server did not start: {log.read_text(errors='replace')}")
