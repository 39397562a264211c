"""The most common passwords, refused as new passwords (OWASP ASVS 6.2.4, NIST SP 800-63B).

The list is zxcvbn's ``passwords`` frequency list: the 30,000 most frequent passwords of
a 10-million-password corpus, ranked, lower-cased, maintained with the package rather
than typed here. All 30,000 are taken, not the first 10,000: passwords under 8
characters are refused by length anyway, and of the first 10,000 only 3,395 are that
long, of all 30,000 11,611.

Comparison is case-insensitive (the list is lower case): every cracking rule set tries
``Password1`` and ``PASSWORD1`` right after ``password1``, so changing the case of a
common password makes it no less common.

Loaded on first use, once per process, in a worker thread: importing zxcvbn takes about
0.4 s and builds its ranked dictionaries, which must not stall the event loop.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable

import anyio.to_thread

__all__ = ["CommonPasswords", "zxcvbn_passwords"]


def zxcvbn_passwords() -> Iterable[str]:
    """zxcvbn's ranked list of common passwords (blocking: an import of about 0.4 s)."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    passwords: list[str] = FREQUENCY_LISTS["passwords"]
    return passwords


class CommonPasswords:
    """Membership in the list of common passwords, loaded lazily and only once."""

    def __init__(self, load: Callable[[], Iterable[str]] = zxcvbn_passwords) -> None:
        self._load = load
        self._words: frozenset[str] | None = None
        self._lock = threading.Lock()  # held in worker threads only, never by the loop

    async def contains(self, password: str) -> bool:
        """Whether `password`, in any case, is on the list; the first call loads it."""
        words = self._words
        if words is None:
            words = await anyio.to_thread.run_sync(self._loaded)
        return password.lower() in words

    def _loaded(self) -> frozenset[str]:
        # However many first checks arrive at once, one thread loads; the rest wait here.
        with self._lock:
            if self._words is None:
                self._words = frozenset(word.lower() for word in self._load())
            return self._words
