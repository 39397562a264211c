"""Password hashing with argon2id, off the event loop, at one cost for every answer."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Final, TypeVar

import anyio
from argon2 import PasswordHasher as Argon2Hasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from argon2.low_level import Type
from argon2.profiles import RFC_9106_LOW_MEMORY

from authward.errors import InvalidCredentials, InvalidInput

MIN_PASSWORD_LENGTH: Final = 8
MAX_PASSWORD_LENGTH: Final = 1024
# Hashing threads run this much nicer than the event loop (Linux: nice is per thread, and
# argon2's lane threads inherit it), so in a login storm the scheduler still gives the
# loop its turn: token and session checks stay fast while every spare cycle hashes. 10
# was not enough on an idle two-core machine: the 8 lane threads of two hashes (p=4)
# together weigh almost as much as the loop, and /auth/me fell to 0.39x of its
# throughput alone (bench-report, 2026-12-05); at 19 they weigh an eighth of it.
ARGON2_NICENESS: Final = 19
_POOL_THREADS: Final = 64  # a ceiling for every hasher of the process together

T = TypeVar("T")
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _lower_priority() -> None:
    with contextlib.suppress(OSError, AttributeError):  # not Linux: same priority, still bounded
        thread = threading.get_native_id()
        niceness = os.getpriority(os.PRIO_PROCESS, thread) + ARGON2_NICENESS
        os.setpriority(os.PRIO_PROCESS, thread, min(19, niceness))


def _argon2_pool() -> ThreadPoolExecutor:
    """The process's hashing threads: apart from anyio's pool, and at a lower priority."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(
                _POOL_THREADS, thread_name_prefix="argon2", initializer=_lower_priority
            )
        return _pool


def check_password_shape(password: str) -> None:
    """Raise InvalidInput unless the password is 8 to 1024 characters long."""
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise InvalidInput(
            f"Password must be {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters."
        )


class PasswordHasher:
    """argon2id in worker threads, at most `max_concurrent` at once.

    A hash at the RFC 9106 low-memory profile holds 64 MiB while it runs: the limiter
    bounds peak memory in a login storm, not only CPU. The threads are the hasher's own
    (never anyio's default pool, which sync routes and file responses need) and run at
    a lower CPU priority than the event loop, so requests that need no hashing (a
    bearer token, a session cookie) keep being answered while logins queue.
    """

    def __init__(
        self,
        *,
        time_cost: int = RFC_9106_LOW_MEMORY.time_cost,
        memory_cost: int = RFC_9106_LOW_MEMORY.memory_cost,
        parallelism: int = RFC_9106_LOW_MEMORY.parallelism,
        max_concurrent: int = 2,
    ) -> None:
        self._argon2 = Argon2Hasher(
            time_cost=time_cost,
            memory_cost=memory_cost,
            parallelism=parallelism,
            hash_len=32,
            salt_len=16,
            type=Type.ID,
        )
        self._limiter = anyio.CapacityLimiter(max_concurrent)
        # Unknown and disabled users are checked against this decoy: every failure branch
        # pays for exactly one argon2 run, so timing tells nothing (Django #20760).
        self._decoy = self._argon2.hash(secrets.token_urlsafe(16))

    async def hash(self, password: str) -> str:
        """Return the argon2id hash of `password` (PHC string format)."""
        check_password_shape(password)
        return await self._run(self._argon2.hash, password)

    async def verify(self, stored: str | None, password: str) -> None:
        """Raise InvalidCredentials unless `password` matches `stored` (None: no usable hash)."""
        if len(password) > MAX_PASSWORD_LENGTH:
            raise InvalidCredentials  # refused before any hashing: no 1 MB argon2 inputs
        try:
            await self._run(self._argon2.verify, stored or self._decoy, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            raise InvalidCredentials from None
        if stored is None:
            raise InvalidCredentials

    async def _run(self, function: Callable[..., T], *args: str) -> T:
        async with self._limiter:
            # Like anyio's to_thread: once started, a hash runs to its end (and holds its
            # place under the limiter) even if the request is cancelled meanwhile.
            with anyio.CancelScope(shield=True):
                result = await asyncio.wrap_future(_argon2_pool().submit(function, *args))
        return result

    def needs_rehash(self, stored: str) -> bool:
        """Tell whether `stored` was made with other parameters than today's."""
        try:
            return self._argon2.check_needs_rehash(stored)
        except InvalidHashError:
            return True
