"""Recovery codes: ten random codes shown once, kept only as salted slow hashes.

A code is twelve letters of 31 (59 bits) from the OS CSPRNG, shown in groups of four
(``k7m2-9xq4-ab3c``); it is checked against each unused code of the user's set, so
it needs no identifier a database dump could pair with its hash.

The hash is argon2id, with parameters of their own, cheaper than the password's:
OWASP's minimum for passwords (t=2, 19 MiB, one lane). A password needs the deployment's
full cost because people choose guessable ones; a random 59-bit code needs none of that
to resist a dump (2^59 guesses of 18 ms each), and a login with a code may check all
ten: at the password's cost (RFC 9106's, 110 ms here) that would be over a second of
CPU, and hold the password hasher's limiter for as long (see docs/mfa.md for the figures).
"""

from __future__ import annotations

import secrets
from typing import Final

import anyio
import anyio.to_thread
from argon2 import Parameters, PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

COUNT: Final = 10
_ALPHABET: Final = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/i/l: read aloud, typed by hand
_GROUPS: Final = 3
_GROUP_LENGTH: Final = 4
CODE_LENGTH: Final = _GROUPS * _GROUP_LENGTH + _GROUPS - 1
PARAMETERS: Final = Parameters(
    type=Type.ID,
    version=19,
    salt_len=16,
    hash_len=32,
    time_cost=2,
    memory_cost=19_456,
    parallelism=1,
)


def new_codes(count: int = COUNT) -> list[str]:
    """`count` fresh codes."""
    return [_new_code() for _ in range(count)]


def normalized(code: str) -> str | None:
    """The code as it was issued (lower case, dashes), or None when it cannot be one."""
    letters = code.strip().lower().replace("-", "").replace(" ", "")
    if len(letters) != _GROUPS * _GROUP_LENGTH or any(c not in _ALPHABET for c in letters):
        return None
    groups = [letters[i : i + _GROUP_LENGTH] for i in range(0, len(letters), _GROUP_LENGTH)]
    return "-".join(groups)


def _new_code() -> str:
    letters = "".join(secrets.choice(_ALPHABET) for _ in range(_GROUPS * _GROUP_LENGTH))
    groups = [letters[i : i + _GROUP_LENGTH] for i in range(0, len(letters), _GROUP_LENGTH)]
    return "-".join(groups)


class RecoveryHasher:
    """argon2id for recovery codes, off the event loop, a bounded number at once."""

    def __init__(self, params: Parameters = PARAMETERS, *, max_concurrent: int = 2) -> None:
        self._argon2 = PasswordHasher.from_parameters(params)
        self._limiter = anyio.CapacityLimiter(max_concurrent)

    async def hash_all(self, codes: list[str]) -> list[str]:
        return [
            await anyio.to_thread.run_sync(self._argon2.hash, code, limiter=self._limiter)
            for code in codes
        ]

    async def matches(self, stored: str, code: str) -> bool:
        def check() -> bool:
            try:
                return self._argon2.verify(stored, code)
            except (VerificationError, InvalidHashError):
                return False

        return await anyio.to_thread.run_sync(check, limiter=self._limiter)
