"""What is counted for each action, under which keys and ceilings (docs/throttling.md)."""

from __future__ import annotations

import logging
from datetime import timedelta

from authward.clock import Clock
from authward.errors import TooManyAttempts
from authward.throttle.keys import (
    account_key,
    address_key,
    mail_key,
    mfa_key,
    pair_key,
    token_key,
)
from authward.throttle.log import FailureLog
from authward.throttle.policy import ThrottlePolicy
from authward.throttle.window import Attempt, SlidingWindow

security_log = logging.getLogger("authward.security")


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


class MfaThrottle:
    """Wrong second-factor codes per account: a count of its own, not the password's.

    The password was right to get here, so the guesser holds it: only the account's own
    count stops one cycling addresses. A success clears the count; a refusal (429) is
    not counted, like a login's.
    """

    def __init__(self, log: FailureLog, max_failures: int, window: timedelta, clock: Clock) -> None:
        self._window = SlidingWindow(log, window, clock)
        self._max_failures = max_failures

    async def attempt(self, user_id: str) -> Attempt:
        """Count one second step of `user_id`; raise TooManyAttempts at the ceiling."""
        key = mfa_key(user_id)
        try:
            held = await self._window.reserve("mfa", ((key, self._max_failures),))
        except TooManyAttempts:
            security_log.warning(
                "second factor throttled", extra={"event": "mfa_throttled", "user_id": user_id}
            )
            raise
        return Attempt(self._window.log, held, clear_on_success=(key,))


class MailThrottle:
    """Requests that mail a link (a reset, a verification), per client address and per
    account.

    The address count is the one a client sees (429), counted for every request whatever
    the email: it says nothing about which accounts exist. The account count is silent:
    past it the request is answered as any other, but no mail goes out, so nobody can
    flood an inbox, and nobody learns that the account exists.
    """

    def __init__(self, log: FailureLog, policy: ThrottlePolicy, clock: Clock) -> None:
        self._window = SlidingWindow(log, policy.window, clock)
        self._policy = policy

    async def attempt(self, action: str, address: str) -> None:
        """Count one request of `action` from `address`; raise TooManyAttempts at the ceiling.

        Kept whatever happens next: it counts the request, not its outcome.
        """
        key = address_key(action, address)
        try:
            await self._window.reserve(action, ((key, self._policy.mail_address_max_attempts),))
        except TooManyAttempts:
            security_log.warning(
                "mail request throttled", extra={"event": f"{action}_throttled", "ip": address}
            )
            raise

    async def allows_mail(self, action: str, user_id: str) -> bool:
        """Count one mail of `action` to the account; False (and uncounted) past its ceiling."""
        key = mail_key(action, user_id)
        try:
            await self._window.reserve(action, ((key, self._policy.mail_account_max),))
        except TooManyAttempts:
            security_log.warning(
                "mail to account throttled",
                extra={"event": f"{action}_mail_throttled", "user_id": user_id},
            )
            return False
        return True


class ChallengeThrottle:
    """WebAuthn challenges handed out per client address, counted whatever comes of them.

    Each options request (a passkey sign-in's, a registration's) keeps a challenge in the
    database for five minutes, and the sign-in's needs no account: without a count one
    client could fill the store. The ceiling is the address's login ceiling: a passkey
    sign-in is a login, and that ceiling is already sized for many people behind one
    address. Live challenges per address are thus at most the ceiling (they expire well
    within the window).
    """

    ACTION = "passkey_options"

    def __init__(self, log: FailureLog, policy: ThrottlePolicy, clock: Clock) -> None:
        self._window = SlidingWindow(log, policy.window, clock)
        self._policy = policy

    async def attempt(self, address: str) -> None:
        """Count one challenge for `address`; raise TooManyAttempts at the ceiling.

        Kept whatever happens next: it counts the challenge, not the sign-in.
        """
        key = address_key(self.ACTION, address)
        try:
            await self._window.reserve(
                self.ACTION, ((key, self._policy.passkey_options_max_attempts),)
            )
        except TooManyAttempts:
            security_log.warning(
                "passkey options throttled",
                extra={"event": "passkey_options_throttled", "ip": address},
            )
            raise
