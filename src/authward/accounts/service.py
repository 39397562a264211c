"""Register, authenticate, change password, disable: the account rules in one place.

What happened (a registration, a failed login, a password change) is an event: `Events`
writes its security log line. Only refusals that are no event (throttled, a wrong
current password) are logged here.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import cast

from authward import crypto
from authward.accounts.emails import MAX_EMAIL_INPUT_LENGTH, lookup_key, normalize_email
from authward.accounts.links import LinkStore, LinkTokens, MemoryLinkStore
from authward.accounts.models import Account, User
from authward.accounts.policy import PasswordPolicy
from authward.accounts.store import KeptAccounts, NoticedPasswords, UserStore
from authward.clock import Clock
from authward.errors import (
    EmailNotVerified,
    InvalidCredentials,
    InvalidInput,
    NotFound,
    TooManyAttempts,
    WrongPassword,
)
from authward.events import EventKind, Events
from authward.ids import UserId
from authward.passwords import MAX_PASSWORD_LENGTH, PasswordHasher, check_password_shape
from authward.throttle.throttles import LoginThrottle, RegistrationThrottle
from authward.throttle.window import judged

security_log = logging.getLogger("authward.security")


class AccountService:
    def __init__(
        self,
        users: UserStore,
        hasher: PasswordHasher,
        throttle: LoginThrottle,
        clock: Clock,
        *,
        events: Events | None = None,
        registrations: RegistrationThrottle | None = None,
        policy: PasswordPolicy | None = None,
        links: LinkStore | None = None,
        require_verified: bool = False,
        cache: KeptAccounts | None = None,
    ) -> None:
        """`cache`, when given, is the node's account cache that `users` is (or stands
        behind): `account` answers from it."""
        self.users = users
        # Public: every way to set a password (a reset too) asks this same policy.
        self.policy = policy or PasswordPolicy()
        self.links = LinkTokens(links or MemoryLinkStore())
        # AUTHWARD_EMAIL_VERIFICATION=required: the right password of an unverified account
        # is refused (EmailNotVerified), after `on_unverified` (a fresh verification mail).
        self.require_verified = require_verified
        self.on_unverified: Callable[[User], Awaitable[None]] | None = None
        self._cache = cache
        self._registrations = registrations
        self._hasher = hasher
        self._throttle = throttle
        self._clock = clock
        self.events = events or Events(clock)

    async def register(self, email: str, password: str, *, address: str | None = None) -> User:
        """Create an account; raise InvalidInput, TooManyAttempts or EmailTaken.

        `admit` then `create`: see both.
        """
        normalized = await self.admit(email, password, address=address)
        return await self.create(normalized, password)

    async def admit(self, email: str, password: str, *, address: str | None = None) -> str:
        """Check a registration before any work; return the normalised email.

        Raises InvalidInput for a malformed email or password. With a client `address` (a
        web request; the CLI has none), TooManyAttempts once that address made too many
        attempts: each one that passed validation counts, taken email or not, so the 429
        tells nothing about which emails exist. The password policy runs after that count:
        its breached check is a request to another service (a WeakPassword).
        """
        normalized = normalize_email(email)
        check_password_shape(password)
        if self._registrations is not None and address is not None:
            try:
                # Counted before the hash, atomically: a burst gets no further than the ceiling.
                await self._registrations.attempt(address)
            except TooManyAttempts:
                security_log.warning(
                    "registration throttled", extra={"event": "register_throttled", "ip": address}
                )
                raise
        await self.policy.check(password, email=normalized)
        return normalized

    async def create(self, normalized: str, password: str) -> User:
        """Store a new account for an admitted email; raise EmailTaken.

        The password is hashed first whether or not the email is taken: both cost one
        argon2 run.
        """
        user = User(
            id=crypto.new_user_id(),
            email=normalized,
            password_hash=await self._hasher.hash(password),
            created_at=self._clock.now(),
        )
        await self.users.add(user)
        await self.events.emit("register", user_id=user.id)
        return user

    async def authenticate(self, email: str, password: str, *, address: str) -> User:
        """Return the user whose credentials these are.

        Raises TooManyAttempts when throttled (even for the right password), else
        InvalidCredentials for an unknown email, a disabled account or a wrong password,
        each after exactly one argon2 verification. An email or password too long to be
        anyone's is InvalidInput at once: no throttle count, no lookup, no hashing.
        """
        if len(email) > MAX_EMAIL_INPUT_LENGTH or len(password) > MAX_PASSWORD_LENGTH:
            raise InvalidInput("Email or password too long.")
        key = lookup_key(email)
        throttle_key = key if key is not None else email
        try:
            attempt = await self._throttle.attempt(throttle_key, address)
        except TooManyAttempts:
            security_log.warning(
                "login throttled", extra={"event": "login_throttled", "ip": address}
            )
            raise
        async with judged(attempt, InvalidCredentials):
            user = None if key is None else await self.users.get_by_email(key)
            usable = user is not None and not user.disabled
            try:
                await self._hasher.verify(user.password_hash if usable and user else None, password)
            except InvalidCredentials:
                await self.events.emit("login_failed", user_id=user.id if user else None)
                raise
        if user is None:  # unreachable: verify() raises for a missing hash
            raise InvalidCredentials
        if self._hasher.needs_rehash(user.password_hash):
            # Parameters went up since this hash was made: upgrade it while we hold the password.
            await self.users.set_password_hash(user.id, await self._hasher.hash(password))
        if self.require_verified and not user.email_verified:
            # Only the right password gets here: a 403 tells nothing a 200 would not.
            if self.on_unverified is not None:
                await self.on_unverified(user)
            raise EmailNotVerified
        return user

    async def change_password(
        self, user_id: UserId, current: str, new: str, *, address: str = ""
    ) -> None:
        """Replace the password; raise WrongPassword when `current` does not match.

        A wrong `current` is a failed login for (account, `address`): the same counts as
        `authenticate`, so past the limit TooManyAttempts, even with the right password.
        Once `current` matched, the new password must pass the policy (a WeakPassword).
        """
        check_password_shape(new)
        await self.confirm_password(user_id, current, address=address, action="password")
        await self.set_password(user_id, new, notice="password_change")
        await self.events.emit("password_change", user_id=user_id)

    async def confirm_password(
        self, user_id: UserId, current: str, *, address: str = "", action: str = "password"
    ) -> User:
        """Return the user if `current` is their password; raise NotFound (no such or a
        disabled account), WrongPassword or TooManyAttempts.

        A wrong `current` is a failed login for (account, `address`), counted before the
        check: guessing it here is the same oracle as a login, with no budget of its own.
        """
        user = await self.users.get(user_id)
        if user is None or user.disabled:
            raise NotFound
        try:
            attempt = await self._throttle.attempt(user.email, address, action=action)
        except TooManyAttempts:
            security_log.warning(
                f"{action} change throttled",
                extra={"event": f"{action}_throttled", "user_id": user_id, "ip": address},
            )
            raise
        async with judged(attempt, WrongPassword):
            try:
                await self._hasher.verify(user.password_hash, current)
            except InvalidCredentials:
                security_log.warning(
                    f"{action} change refused",
                    extra={"event": f"{action}_change_failed", "user_id": user_id, "ip": address},
                )
                raise WrongPassword from None
        return user

    async def set_password(
        self, user_id: UserId, new: str, *, notice: EventKind | None = None
    ) -> None:
        """Set a new password (the rules of registration, the policy among them) and void
        the user's mailed links: a link sent before the change must not undo it.

        `notice`: the kind of change this is; its notice mail (`Events.notices`), if one is
        written with the change, commits in the same transaction as the new hash.
        """
        check_password_shape(new)
        user = await self.users.get(user_id)
        if user is None:
            raise NotFound
        await self.policy.check(new, email=user.email)
        password_hash = await self._hasher.hash(new)
        then = None if notice is None else await self.events.notices.prepare(notice, user_id)
        if then is None:
            await self.users.set_password_hash(user_id, password_hash)
        else:
            # The runtime writes password notices this way only over its own user stores,
            # which take `then`; an application's adapter gets them through the event.
            noticed = cast(NoticedPasswords, self.users)
            await noticed.set_password_hash(user_id, password_hash, then=then)
        await self.links.store.void(user_id)

    def kept_account(self, user_id: UserId) -> Account | None:
        """The account as this node keeps it fresh; None without one. No I/O, no await."""
        return None if self._cache is None else self._cache.kept(user_id)

    async def account(self, user_id: UserId) -> Account | None:
        """The account of this user (disabled or not), None if there is none.

        From the node's cache when there is one (`authward.accounts.cache`), else read.
        """
        if self._cache is not None:
            return await self._cache.account(user_id)
        user = await self.users.get(user_id)
        return None if user is None else user.account

    async def set_disabled(self, user_id: UserId, disabled: bool) -> None:
        if not await self.users.set_disabled(user_id, disabled):
            raise NotFound

    async def remove(self, user_id: UserId) -> None:
        """Delete the account row; NotFound when there is none (see `AccountLifecycle.delete`)."""
        if not await self.users.remove(user_id):
            raise NotFound

    async def find(self, email_or_id: str) -> User | None:
        key = lookup_key(email_or_id)
        user = await self.users.get_by_email(key) if key else None
        if user is None and crypto.is_user_id_shaped(email_or_id):
            user = await self.users.get(email_or_id)
        return user
