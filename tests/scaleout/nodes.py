"""Several `authward serve` processes of one deployment, on loopback ports: to use and to kill."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.conftest import TEST_SECRET
from tests.servers import CHEAP_ARGON2_ENV, free_port

START_TIMEOUT = 60.0  # seconds: a cold start on a busy two-core machine takes a few
PASSWORD = "correct horse battery"


def node_env(database_url: str, **settings: str) -> dict[str, str]:
    """What every node of one test deployment shares; `settings` as AUTHWARD_* names."""
    return {
        "AUTHWARD_DATABASE_URL": database_url,
        "AUTHWARD_SECRET_KEY": TEST_SECRET,
        "AUTHWARD_INSECURE_COOKIES": "1",
        "AUTHWARD_REVOCATION_POLL_INTERVAL": "0.1",
        # Every test client comes from 127.0.0.1: the per-address limits are not under test.
        "AUTHWARD_REGISTER_MAX_ATTEMPTS": "100000",
        "AUTHWARD_LOGIN_MAX_FAILURES": "10000",
        "AUTHWARD_REFRESH_MAX_FAILURES": "100000",
        **CHEAP_ARGON2_ENV,
        **{f"AUTHWARD_{name.upper()}": value for name, value in settings.items()},
    }


@dataclass
class Node:
    """One `authward serve` process."""

    name: str
    base: str
    process: subprocess.Popen[bytes]
    log: Path

    def kill(self) -> None:
        """SIGKILL: a crash, mid-request if there is one."""
        self.process.kill()
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def start_node(workdir: Path, name: str, env: Mapping[str, str]) -> Node:
    """Start a node; it may not be up yet (see `wait_until_answering`)."""
    port = free_port()
    log = workdir / f"node-{name}-{port}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(  # noqa: S603 - our own entry point
            [sys.executable, "-m", "authward", "serve", "--port", str(port)]
            + ["--log-level", "warning"],
            cwd=workdir,
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return Node(name, f"http://127.0.0.1:{port}", process, log)


def wait_until_answering(node: Node, *, healthy: bool = True) -> httpx.Response:
    """Wait until /healthz answers (200 when `healthy`, any status otherwise)."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if node.process.poll() is not None:
            raise RuntimeError(f"node {node.name} exited: {node.output()}")
        try:
            response = httpx.get(f"{node.base}/healthz", timeout=2)
        except httpx.HTTPError:
            response = None
        if response is not None and (response.status_code == 200 or not healthy):
            return response
        time.sleep(0.05)
    raise RuntimeError(f"node {node.name} did not come up: {node.output()}")


@contextmanager
def running_nodes(
    workdir: Path, env: Mapping[str, str], names: str = "abc", *, healthy: bool = True
) -> Iterator[list[Node]]:
    """Start one node per letter of `names` at once, wait for all, stop all after."""
    nodes = [start_node(workdir, name, env) for name in names]
    try:
        for node in nodes:
            wait_until_answering(node, healthy=healthy)
        yield nodes
    finally:
        for node in nodes:
            node.stop()


def new_account() -> dict[str, str]:
    return {"email": f"{secrets.token_hex(6)}@example.com", "password": PASSWORD}


def credential(*, cookie: str = "", token: str = "") -> dict[str, str]:
    """The headers that carry a session cookie or a bearer token (clients here keep none)."""
    if token:
        return {"Authorization": f"Bearer {token}"}
    return {"Cookie": f"authward_session={cookie}"}


async def me(client: httpx.AsyncClient, *, cookie: str = "", token: str = "") -> int:
    """The status of ``GET /auth/me`` with that credential."""
    response = await client.get("/auth/me", headers=credential(cookie=cookie, token=token))
    return response.status_code
