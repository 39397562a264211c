"""Revocations between the processes of one machine at once: the SQL table, pushed by
Unix datagrams.

The workers of one ``authward serve --workers N`` (and any process on the same SQLite
file: a second server, the command line) share a directory beside the database file.
Each server binds a datagram socket there; a process that publishes a revocation sends
one datagram (`authward.revocation.wire`: what the row will hold, never a token or a
session id) to every other socket in the directory, then writes the row as on any SQL
database (`SqlRevocationBus`). A worker delivers what it receives on its event loop, at
once: no poll, no read of the database; when its poll reads the row, it knows the row by
its value and passes it by.

The table stays the record and the poll stays the resync: a datagram is lost only when a
worker's receive queue is full (the sender does not wait) or the directory cannot be
used, and the worker's next poll reads the row either way. A socket whose process is gone
refuses datagrams; the first sender that meets it removes it.

Whoever can send to a worker's socket can make it forget cached sessions or refuse
tokens. The directory is therefore the owner's alone: created with mode 0700, and one
that another user owns, that group or others may enter, or that is a symbolic link is
refused (`prepare` raises UnsafeDirectory, and the runtime keeps to the poll).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import secrets
import socket
import stat
import tempfile
from pathlib import Path
from typing import Final

from sqlalchemy.ext.asyncio import AsyncEngine

from authward.clock import Clock
from authward.revocation import wire
from authward.revocation.list import Revocation
from authward.revocation.sql import UNWRITTEN, SqlRevocationBus

log = logging.getLogger(__name__)
security_log = logging.getLogger("authward.security")

SUFFIX: Final = ".sock"
# sun_path holds 108 bytes with its terminating NUL; a socket's name takes 22 of them.
MAX_SOCKET_PATH: Final = 107
_NAME_BYTES: Final = 22  # "/" + 16 hex digits + ".sock"


class UnsafeDirectory(Exception):
    """The socket directory is not this user's alone: it must not carry revocations."""


def directory_for(database: str) -> Path:
    """Where the sockets of the processes on SQLite file `database` live.

    Beside it (``authward.db-bus``, as SQLite keeps ``authward.db-wal``), unless that path
    is too long for a socket's name: then in the temporary directory, under a name taken
    from the database's absolute path, so every process on the file still finds it.
    """
    path = Path(os.path.abspath(database))
    beside = path.with_name(path.name + "-bus")
    if len(os.fsencode(beside)) + _NAME_BYTES <= MAX_SOCKET_PATH:
        return beside
    digest = hashlib.sha256(os.fsencode(path)).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"authward-{os.getuid()}-{digest}"


def prepare(directory: Path) -> Path:
    """Create `directory` (mode 0700) if need be; raise UnsafeDirectory unless it is a real
    directory that this user owns and nobody else may enter. Returns it."""
    if os.name != "posix":  # no datagram sockets in the file system, no owners to check
        raise UnsafeDirectory("Unix datagram sockets are not available here")
    with contextlib.suppress(FileExistsError):
        directory.mkdir(mode=0o700)
    info = directory.lstat()
    if not stat.S_ISDIR(info.st_mode):
        raise UnsafeDirectory(f"{directory} is not a directory")
    if info.st_uid != os.getuid():
        raise UnsafeDirectory(f"{directory} belongs to another user")
    if info.st_mode & 0o077:
        raise UnsafeDirectory(f"{directory} is open to others (mode {info.st_mode & 0o777:o})")
    return directory


class SameHostRevocationBus(SqlRevocationBus):
    """The SQL bus, announced by datagrams to every process on this database file.

    `start` binds this process's socket and listens (a server does); a process that only
    publishes (a CLI command) sends all the same. `close` removes the socket.
    """

    def __init__(self, engine: AsyncEngine, clock: Clock, directory: Path) -> None:
        super().__init__(engine, clock)
        self.directory = directory
        self._receiver: socket.socket | None = None
        self._sender: socket.socket | None = None
        self._own: str | None = None

    @property
    def live(self) -> bool:
        """Whether this process's socket is bound and heard."""
        return self._receiver is not None

    @property
    def socket_name(self) -> str | None:
        """The name of this process's socket in the directory, once bound."""
        return self._own if self._receiver is not None else None

    def start(self) -> None:
        if self._receiver is not None:
            return
        path = self.directory / f"{secrets.token_hex(8)}{SUFFIX}"
        receiver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            prepare(self.directory)  # again: it may have changed since the runtime looked
            receiver.setblocking(False)
            receiver.bind(os.fspath(path))
        except (OSError, UnsafeDirectory) as exc:
            receiver.close()
            security_log.warning(
                "revocations reach this process by the poll only: %s",
                exc,
                extra={"event": "revocation_push_unavailable"},
            )
            return
        asyncio.get_running_loop().add_reader(receiver.fileno(), self._receive)
        self._receiver, self._own = receiver, path.name

    async def close(self) -> None:
        receiver, self._receiver = self._receiver, None
        if receiver is not None:
            with contextlib.suppress(RuntimeError):  # the loop may be closing
                asyncio.get_running_loop().remove_reader(receiver.fileno())
            receiver.close()
            if self._own is not None:
                with contextlib.suppress(OSError):
                    (self.directory / self._own).unlink()
        if self._sender is not None:
            self._sender.close()
            self._sender = None

    def staleness(self, poll_interval: float) -> float:
        # Milliseconds for the processes on this machine; a datagram lost (a full queue)
        # is read by the receiver's next poll: one interval.
        return poll_interval

    async def publish(self, revocation: Revocation) -> None:
        self._deliver(revocation)  # here first, as on every bus
        # The others next, before the row is written: the datagram carries all they need,
        # and a write (a thread hop and a commit) is what a busy machine makes wait. Should
        # the write fail, publish raises, and the others hold a revocation the table does
        # not: fail closed, as this node does. Their poll passes the row by once written.
        if self._sender is None:
            self._sender = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self._sender.setblocking(False)
        # On the event loop, not in a thread: a listing of a small local directory and
        # sends that never wait (O_NONBLOCK; a full queue is skipped, the poll carries
        # it), a few microseconds each, where a hop to a thread and back cost the tail of
        # the propagation whole milliseconds on a busy machine (benchmarks/fanout.py).
        self._send_all(self._sender, wire.encode(UNWRITTEN, revocation).encode())
        await self._record(revocation)

    def _send_all(self, sender: socket.socket, message: bytes) -> None:
        try:
            entries = list(os.scandir(self.directory))
        except OSError as exc:
            log.warning("revocation sockets not listed, the poll will carry it: %s", exc)
            return
        for entry in entries:
            if not entry.name.endswith(SUFFIX) or entry.name == self._own:
                continue
            try:
                sender.sendto(message, entry.path)
            except ConnectionRefusedError:
                # Nobody is bound to it: its process ended without removing it.
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)
            except OSError as exc:  # a full queue (EAGAIN), a socket gone meanwhile
                log.debug("revocation datagram not sent to %s: %s", entry.name, exc)

    def _receive(self) -> None:
        receiver = self._receiver
        while receiver is not None:
            try:
                data = receiver.recv(wire.MAX_BYTES + 1)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                log.warning("revocation socket failed: %s", exc)
                return
            heard = wire.decode(data)
            if heard is None:
                log.warning("ignored a malformed revocation datagram")
                continue
            self._heard(*heard)
