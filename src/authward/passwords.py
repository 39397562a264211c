"""Password hashing with argon2id, off the event loop, at one cost for every answer."""

from __future__ import annotations

import secrets
from typing import Final

import anyio
import anyio.to_thread
from argon2 import PasswordHasher as Argon2Hasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from argon2.low_level import Type
from argon2.profiles import RFC_9106_LOW_MEMORY

from authward.errors import InvalidCredentials, InvalidInput

MIN_PASSWORD_LENGTH: Final = 8
MAX_PASSWORD_LENGTH: Final = 1024


def check_password_shape(password: str) -> None:
    """Raise InvalidInput unless the password is 8 to 1024 characters long."""
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise InvalidInput(
            f"Password must be {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters."
        )


class PasswordHasher:
    """argon2id in worker threads, at most `max_concurrent` at once.

    A hash at the RFC 9106 low-memory profile holds 64 MiB while it runs: the limiter
    bounds peak memory in a login storm, not only CPU, and leaves the event loop's
    thread (and the other workers' threads) free for requests that need no hashing.
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
        return await anyio.to_thread.run_sync(self._argon2.hash, password, limiter=self._limiter)

    async def verify(self, stored: str | None, password: str) -> None:
        """Raise InvalidCredentials unless `password` matches `stored` (None: no usable hash)."""
        if len(password) > MAX_PASSWORD_LENGTH:
            raise InvalidCredentials  # refused before any hashing: no 1 MB argon2 inputs
        try:
            await anyio.to_thread.run_sync(
                self._argon2.verify, stored or self._decoy, password, limiter=self._limiter
            )
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            raise InvalidCredentials from None
        if stored is None:
            raise InvalidCredentials

    def needs_rehash(self, stored: str) -> bool:
        """Tell whether `stored` was made with other parameters than today's."""
        try:
            return self._argon2.check_needs_rehash(stored)
        except InvalidHashError:
            return True
