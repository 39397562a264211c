"""A private PostgreSQL server on a free loopback port: to stop and start under traffic.

Never the shared server. The cluster is made with ``initdb`` in a temporary directory
owned by the ``postgres`` system user, and every server command runs as that user
(``runuser``, or ``su`` where there is no runuser; when the tests already run as
``postgres``, directly). Trust authentication on loopback only; fsync off, since losing
the machine is not under test (stopping the server is).
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from tests.servers import free_port

START_TIMEOUT = 30  # seconds, for initdb and pg_ctl each
# What a server that cannot be made or started raises here.
START_ERRORS = (OSError, KeyError, RuntimeError, subprocess.SubprocessError)


def _binaries() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=_version)
    if found:
        return Path(found[-1]).parent
    pg_ctl = shutil.which("pg_ctl")
    if pg_ctl is None:
        raise FileNotFoundError("no PostgreSQL server binaries (pg_ctl, initdb) found")
    return Path(pg_ctl).parent


def _version(path: str) -> tuple[int, ...]:
    part = Path(path).parent.parent.name
    return tuple(int(p) for p in part.split(".") if p.isdigit())


class PostgresServer:
    """One private cluster; `start`, `stop` (fast shutdown) and `remove` when done."""

    def __init__(self) -> None:
        self._bin = _binaries()
        account = pwd.getpwnam("postgres")
        if os.geteuid() not in (0, account.pw_uid):
            raise RuntimeError("starting a private PostgreSQL needs root or the postgres user")
        self._uid, self._gid = account.pw_uid, account.pw_gid
        self.root = Path(tempfile.mkdtemp(prefix="authward-pg-"))
        os.chown(self.root, self._uid, self._gid)
        self.data = self.root / "data"
        self.port = free_port()
        self._run(
            "initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust",
            "--no-sync", "-E", "UTF8",
        )  # fmt: skip

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def start(self, *, standby: bool = False, hot_standby: bool = True, wait: bool = True) -> None:
        """Start the server; as a `standby` it is read-only, or refuses every connection
        (57P03) without `hot_standby`, until `promote`. Without `wait`, return at once,
        while it may still be starting (or recovering from a crash)."""
        signal_file = self.data / "standby.signal"
        if standby:
            signal_file.touch()
            os.chown(signal_file, self._uid, self._gid)
        else:
            signal_file.unlink(missing_ok=True)
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} "
            "-c fsync=off -c full_page_writes=off -c max_connections=50 "
            f"-c hot_standby={'on' if hot_standby else 'off'}"
        )
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"),
            "-o", options, "-w" if wait else "-W", "-t", str(START_TIMEOUT), "start",
        )  # fmt: skip

    def promote(self) -> None:
        """Make a standby the primary: what a failover does."""
        self._run("pg_ctl", "-D", str(self.data), "-w", "-t", str(START_TIMEOUT), "promote")

    def kill_postmaster(self) -> None:
        """SIGKILL the postmaster alone, as the OOM killer would; return once its children
        (which notice its death by themselves) are gone too, so it can start again."""
        postmaster, *children = self._processes()
        os.kill(postmaster, signal.SIGKILL)
        deadline = time.monotonic() + START_TIMEOUT
        while any(_alive(pid) for pid in (postmaster, *children)):
            if time.monotonic() > deadline:
                raise RuntimeError("the killed postmaster's children did not exit")
            time.sleep(0.02)
        # Its lock files name a dead process; while no one has reaped it yet, a new
        # postmaster would still take that zombie for a server running here.
        for lock in (self.data / "postmaster.pid", self.root / f".s.PGSQL.{self.port}.lock"):
            lock.unlink(missing_ok=True)

    def stop(self, mode: str = "fast") -> None:
        """Stop the server: "fast" ends every connection; "immediate" is a crash."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def freeze(self) -> None:
        """Stop every process of the cluster (SIGSTOP): connections stay open, nothing answers."""
        for pid in self._processes():
            os.kill(pid, signal.SIGSTOP)

    def thaw(self) -> None:
        for pid in self._processes():
            os.kill(pid, signal.SIGCONT)

    def _processes(self) -> list[int]:
        """The postmaster and its children (the backends and background workers)."""
        postmaster = int((self.data / "postmaster.pid").read_text().split()[0])
        children = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue  # gone meanwhile
            if parent == postmaster:
                children.append(int(stat.parent.name))
        return [postmaster, *children]

    def remove(self) -> None:
        if (self.data / "postmaster.pid").exists():
            with contextlib.suppress(OSError, ValueError):
                self.thaw()  # a frozen server would not stop
            try:
                self.stop("immediate")
            except subprocess.SubprocessError:
                pass
        shutil.rmtree(self.root, ignore_errors=True)

    def log(self) -> str:
        path = self.root / "server.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def _run(self, program: str, *args: str) -> None:
        command = [str(self._bin / program), *args]
        if os.geteuid() != self._uid:
            runuser = shutil.which("runuser")
            command = (
                [runuser, "-u", "postgres", "--", *command]
                if runuser
                else ["su", "postgres", "-c", subprocess.list2cmdline(command)]
            )
        subprocess.run(  # noqa: S603 - fixed binaries, our own arguments
            command,
            check=True,
            capture_output=True,
            timeout=START_TIMEOUT,
            cwd=self.root,
        )


def _alive(pid: int) -> bool:
    """Whether process `pid` still runs (a zombie, dead but not yet reaped, does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")
