"""Attempt counting in sliding windows: logins, password changes, refreshes, sign-ups.

Every count is a list of entries under an opaque key in a `FailureLog` (memory, SQL or
Redis), and each entry counts for exactly `window` after it happened. The rules are in
docs/throttling.md; in short:

* logins and password changes (`LoginThrottle`): failures per (account, client address),
  `max_failures` (``AUTHWARD_LOGIN_MAX_FAILURES``) in the window, reset by a success from
  that address; per client address across every account (``AUTHWARD_LOGIN_ADDRESS_MAX_
  FAILURES``), against password spraying; and per account from every address a higher
  ceiling (``AUTHWARD_LOGIN_ACCOUNT_MAX_FAILURES``, ten times the first by default), which
  slows a distributed guesser without letting one address lock the owner out;
* refreshes (`RefreshThrottle`): failures per client address and per presented token,
  never reset by a success (one good token must not buy an address more guesses);
* registrations (`RegistrationThrottle`): attempts per client address, whatever their
  outcome, so the count says nothing about which emails exist.

An attempt is counted *before* its work, atomically: `FailureLog.reserve` adds an entry
under every key only if each key is under its ceiling, in one step no concurrent attempt
can split (a transaction, or one Lua script per key). However many attempts arrive at
once, at most the ceiling get past it. The entry then stands for the attempt: a failure
leaves it where it is, a success gives it back (`Attempt.succeeded`), and so does an
attempt that ended before it was judged (a store that did not answer). A refused attempt
adds nothing, so refusals never push a count (an account's, say) further.

Keys are digests (of the normalised email, the address, the token): no log holds one.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from math import ceil
from typing import TYPE_CHECKING, Protocol

from authward.clock import Clock
from authward.errors import TooManyAttempts
from authward.metrics import THROTTLED

if TYPE_CHECKING:
    from authward.settings import Settings

security_log = logging.getLogger("authward.security")

# One entry a log holds for an attempt: its key, and its id under that key.
Entry = tuple[bytes, str]
# A key and its ceiling, in the order a log should try them (see `LoginThrottle`).
Limit = tuple[bytes, int]


@dataclass(frozen=True, slots=True)
class ThrottlePolicy:
    max_failures: int
    account_max_failures: int
    window: timedelta
    refresh_max_failures: int = 100
    refresh_token_max_failures: int = 5
    register_max_attempts: int = 20
    address_max_failures: int = 100

    @classmethod
    def of(cls, settings: Settings) -> ThrottlePolicy:
        return cls(
            max_failures=settings.login_max_failures,
            account_max_failures=settings.account_max_failures,
            window=timedelta(seconds=settings.login_window),
            refresh_max_failures=settings.refresh_max_failures,
            refresh_token_max_failures=settings.login_max_failures,
            register_max_attempts=settings.register_max_attempts,
            address_max_failures=settings.login_address_max_failures,
        )


def account_key(email: str) -> bytes:
    return hashlib.sha256(b"account\x00" + email.encode("utf-8", "surrogatepass")).digest()


def pair_key(email: str, address: str) -> bytes:
    joined = email + "\x00" + address
    return hashlib.sha256(b"pair\x00" + joined.encode("utf-8", "surrogatepass")).digest()


def address_key(action: str, address: str) -> bytes:
    joined = action + "\x00address\x00" + address
    return hashlib.sha256(joined.encode("utf-8", "surrogatepass")).digest()


def token_key(token: str) -> bytes:
    return hashlib.sha256(b"refresh-token\x00" + token.encode("utf-8", "surrogatepass")).digest()


@dataclass(frozen=True, slots=True)
class Admission:
    """A log's answer to a reservation: the entries it now holds, or why it holds none.

    Refused, `blocked_by` is the time of the entry that has to leave the window before the
    full key has room again (the ceiling-th newest); admitted, it is None.
    """

    held: tuple[Entry, ...] = ()
    blocked_by: datetime | None = None


class FailureLog(Protocol):
    """Entries under opaque keys, added only while each key is under its ceiling.

    `reserve` is the one operation that must hold under concurrency, on every node: for
    each key it counts the entries at or after `since` and adds one at `at` only when the
    count is under the key's ceiling, in one step no other reservation of that key can
    interleave with. A refused reservation leaves nothing held under any of its keys (an
    implementation that works key by key gives back what it took, in the given order).
    """

    async def reserve(
        self, limits: Sequence[Limit], at: datetime, since: datetime
    ) -> Admission: ...

    async def release(self, entries: Sequence[Entry], clear: Sequence[bytes] = ()) -> None:
        """Drop these entries, and every entry under the keys in `clear`."""

    async def recent(self, key: bytes, since: datetime) -> list[datetime]:
        """Entries under `key` at or after `since`, oldest first."""

    async def prune(self, before: datetime) -> int: ...


class Attempt:
    """One attempt's place in its counts, taken before the work and kept if it fails.

    A failure needs nothing: the entries already stand for it. `succeeded` and `abandoned`
    give them back (and a success also clears the keys the throttle resets on success).
    """

    __slots__ = ("_clear_on_success", "_held", "_log")

    def __init__(
        self, log: FailureLog, held: tuple[Entry, ...], clear_on_success: tuple[bytes, ...] = ()
    ) -> None:
        self._log = log
        self._held = held
        self._clear_on_success = clear_on_success

    async def succeeded(self) -> None:
        await self._give_back(self._clear_on_success)

    async def abandoned(self) -> None:
        """The attempt ended before it was judged (a store did not answer): count nothing."""
        await self._give_back(())

    async def _give_back(self, clear: tuple[bytes, ...]) -> None:
        held, self._held = self._held, ()
        if held or clear:
            await self._log.release(held, clear)


@asynccontextmanager
async def judged(attempt: Attempt, failure: type[BaseException]) -> AsyncIterator[None]:
    """Settle `attempt` by how the block ends: `failure` keeps it counted, success gives it
    back, and any other error (a store down, a cancelled request) gives it back too."""
    try:
        yield
    except failure:
        raise
    except BaseException:
        await attempt.abandoned()
        raise
    await attempt.succeeded()


class SlidingWindow:
    """Reservations under opaque keys over one sliding window."""

    def __init__(self, log: FailureLog, window: timedelta, clock: Clock) -> None:
        self.log = log
        self.window = window
        self._clock = clock

    async def reserve(self, action: str, limits: Sequence[Limit]) -> tuple[Entry, ...]:
        """Hold one entry under every key; raise TooManyAttempts (with the wait) at a ceiling."""
        now = self._clock.now()
        # An entry counts for exactly `window`: from its instant up to, not including,
        # instant + window (the logs keep microseconds, so `since` starts one later).
        since = now - self.window + timedelta(microseconds=1)
        admission = await self.log.reserve(limits, now, since)
        if admission.blocked_by is not None:
            THROTTLED.labels(action).inc()
            # The window slides: the wait ends when enough old entries age out.
            wait = (admission.blocked_by + self.window - now).total_seconds()
            raise TooManyAttempts(max(1, ceil(wait)))
        return admission.held

    async def prune(self) -> int:
        return await self.log.prune(self._clock.now() - self.window)


class LoginThrottle:
    """Count logins before their password is checked, and forget the ones that succeed.

    Password changes share these counts: guessing the current password through
    ``/auth/password`` is the same oracle as a login, so it gets no budget of its own.

    The keys go to the log narrowest first: (account, address), then the address, then the
    account. A log that reserves key by key (Redis Cluster) thus takes a slot of the
    account's count, the one its owner shares, only for an attempt that the caller's own
    counts let through.
    """

    def __init__(self, log: FailureLog, policy: ThrottlePolicy, clock: Clock) -> None:
        self._window = SlidingWindow(log, policy.window, clock)
        self._policy = policy

    @property
    def log(self) -> FailureLog:
        return self._window.log

    async def attempt(self, email: str, address: str, *, action: str = "login") -> Attempt:
        """Count a login of `email` from `address`; raise TooManyAttempts at any ceiling."""
        pair = pair_key(email, address)
        held = await self._window.reserve(
            action,
            (
                (pair, self._policy.max_failures),
                (address_key("login", address), self._policy.address_max_failures),
                (account_key(email), self._policy.account_max_failures),
            ),
        )
        return Attempt(self.log, held, clear_on_success=(pair,))

    async def prune(self) -> int:
        """Drop entries that fell out of the window (every throttle's: they share the log)."""
        return await self._window.prune()


class RefreshThrottle:
    """Failed refreshes per client address and per presented token.

    A guesser sends a new random token each time, so only the address count can stop
    one; the token count stops a client (or a replayer) hammering one dead token. Only
    well-formed tokens get here: a malformed one is refused before any I/O and counts
    nowhere, so garbage cannot make the server write. A success clears no earlier failure.
    """

    def __init__(self, log: FailureLog, policy: ThrottlePolicy, clock: Clock) -> None:
        self._window = SlidingWindow(log, policy.window, clock)
        self._policy = policy

    async def attempt(self, token: str, address: str) -> Attempt:
        try:
            held = await self._window.reserve(
                "refresh",
                (
                    (token_key(token), self._policy.refresh_token_max_failures),
                    (address_key("refresh", address), self._policy.refresh_max_failures),
                ),
            )
        except TooManyAttempts:
            security_log.warning(
                "refresh throttled", extra={"event": "refresh_throttled", "ip": address}
            )
            raise
        return Attempt(self._window.log, held)


class RegistrationThrottle:
    """Registration attempts per client address, counted whatever their outcome.

    Counting only refusals (409) would make a 429 mean "you hit existing emails"; counting
    every attempt that passed validation says nothing about any email, and also bounds
    how many accounts (and argon2 hashes) one address can make.
    """

    def __init__(self, log: FailureLog, policy: ThrottlePolicy, clock: Clock) -> None:
        self._window = SlidingWindow(log, policy.window, clock)
        self._policy = policy

    async def attempt(self, address: str) -> None:
        """Count one registration from `address`; raise TooManyAttempts at the ceiling.

        The entry is kept whatever happens next: it counts the attempt, not its outcome.
        """
        key = address_key("register", address)
        await self._window.reserve("register", ((key, self._policy.register_max_attempts),))
