"""Private `redis-server` processes on free loopback ports: to kill, restart, or cluster.

Never the shared server: these are ours to crash. Nothing is persisted (no RDB, no AOF)
unless asked, so a restarted server starts empty, as after losing its memory.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from pathlib import Path

import redis

from tests.servers import free_port

START_TIMEOUT = 10.0
# What a server that cannot be started or reached raises, here and in redis-cli.
START_ERRORS = (OSError, RuntimeError, subprocess.SubprocessError, redis.RedisError)


def ping(url: str) -> None:
    """Raise unless the server at `url` answers PING within two seconds."""
    client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
    try:
        client.ping()
    finally:
        client.close()


class RedisServers:
    """Start and stop private Redis servers under `workdir`; `stop_all` when done."""

    def __init__(self, workdir: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise FileNotFoundError("redis-server is not on PATH")
        self._binary = binary
        self._workdir = workdir
        self._processes: dict[int, subprocess.Popen[bytes]] = {}

    def start(self, port: int | None = None, *, cluster: bool = False, aof: bool = False) -> int:
        """Start a server (on `port`, or a free one) and wait until it answers PING.

        With `aof`, every write is in the append-only file before it is acknowledged, so a
        server killed and started again on the same port comes back with its data.
        """
        port = port or free_port()
        args = [
            self._binary,
            "--port", str(port),
            "--bind", "127.0.0.1",
            "--dir", str(self._workdir),
            "--save", "",
            "--appendonly", "yes" if aof else "no",
            "--appendfsync", "always",
            "--appenddirname", f"aof-{port}",
            "--logfile", f"redis-{port}.log",
        ]  # fmt: skip
        if cluster:
            args += [
                "--cluster-enabled", "yes",
                "--cluster-config-file", f"nodes-{port}.conf",
                # Explicit bus port: the default (port + 10000) may not be free, or exist.
                "--cluster-port", str(free_port()),
            ]  # fmt: skip
        process = subprocess.Popen(  # noqa: S603 - a fixed binary, our own arguments
            args, cwd=self._workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        self._processes[port] = process
        self._wait_until_up(port, process)
        return port

    def kill(self, port: int) -> None:
        """Kill the server on `port` at once (SIGKILL): a crash, not a shutdown."""
        process = self._processes.pop(port)
        process.kill()
        process.wait(timeout=START_TIMEOUT)

    def freeze(self, port: int) -> None:
        """Stop the process (SIGSTOP): connections stay open, nothing answers."""
        self._processes[port].send_signal(signal.SIGSTOP)

    def thaw(self, port: int) -> None:
        self._processes[port].send_signal(signal.SIGCONT)

    def stop_all(self) -> None:
        for port in list(self._processes):
            self.thaw(port)
            self.kill(port)

    def log(self, port: int) -> str:
        path = self._workdir / f"redis-{port}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def _wait_until_up(self, port: int, process: subprocess.Popen[bytes]) -> None:
        client = redis.Redis(port=port, socket_timeout=0.5, socket_connect_timeout=0.5)
        deadline = time.monotonic() + START_TIMEOUT
        try:
            while time.monotonic() < deadline:
                if process.poll() is not None:
                    raise RuntimeError(f"redis-server exited: {self.log(port)[-2000:]}")
                try:
                    if client.ping():
                        return
                except redis.ConnectionError:
                    time.sleep(0.02)
            raise RuntimeError(f"redis-server on port {port} did not answer")
        finally:
            client.close()


def create_cluster(servers: RedisServers, masters: int = 3) -> list[int]:
    """Start `masters` cluster-enabled servers, join them (no replicas), wait until OK."""
    cli = shutil.which("redis-cli")
    if cli is None:
        raise FileNotFoundError("redis-cli is not on PATH")
    ports = [servers.start(cluster=True) for _ in range(masters)]
    subprocess.run(  # noqa: S603 - a fixed binary, our own arguments
        [cli, "--cluster", "create", *(f"127.0.0.1:{p}" for p in ports)]
        + ["--cluster-replicas", "0", "--cluster-yes"],
        check=True,
        capture_output=True,
        timeout=60,
    )
    for port in ports:
        _wait_for_cluster_ok(port, masters)
    return ports


def _wait_for_cluster_ok(port: int, masters: int) -> None:
    # redis-cli returns once the slots are assigned; every node must also know every
    # other and agree the cluster is up, or the first command may meet CLUSTERDOWN.
    client = redis.Redis(port=port, socket_timeout=1, decode_responses=True)
    deadline = time.monotonic() + START_TIMEOUT
    try:
        while time.monotonic() < deadline:
            info = client.cluster("INFO")
            if info["cluster_state"] == "ok" and int(info["cluster_known_nodes"]) == masters:
                return
            time.sleep(0.05)
        raise RuntimeError(f"cluster node {port} never reached cluster_state:ok")
    finally:
        client.close()
