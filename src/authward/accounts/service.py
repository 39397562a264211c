"""Register, authenticate, change password, disable: the account rules in one place."""

from __future__ import annotations

import logging
import uuid

from authward.accounts.emails import lookup_key, normalize_email
from authward.accounts.models import User, UserId
from authward.accounts.store import UserStore
from authward.accounts.throttle import LoginThrottle
from authward.clock import Clock
from authward.errors import InvalidCredentials, NotFound, WrongPassword
from authward.passwords import PasswordHasher, check_password_shape

security_log = logging.getLogger("authward.security")


class AccountService:
    def __init__(
        self, users: UserStore, hasher: PasswordHasher, throttle: LoginThrottle, clock: Clock
    ) -> None:
        self.users = users
        self._hasher = hasher
        self._throttle = throttle
        self._clock = clock

    async def register(self, email: str, password: str) -> User:
        """Create an account; raise InvalidInput or EmailTaken."""
        normalized = normalize_email(email)
        check_password_shape(password)
        user = User(
            id=str(uuid.uuid4()),
            email=normalized,
            password_hash=await self._hasher.hash(password),
            created_at=self._clock.now(),
        )
        await self.users.add(user)
        security_log.info("user registered", extra={"event": "register", "user_id": user.id})
        return user

    async def authenticate(self, email: str, password: str, *, address: str) -> User:
        """Return the user whose credentials these are.

        Raises TooManyAttempts when throttled (even for the right password), else
        InvalidCredentials for an unknown email, a disabled account or a wrong password,
        each after exactly one argon2 verification.
        """
        key = lookup_key(email)
        throttle_key = key if key is not None else email[:320]
        await self._throttle.check(throttle_key, address)
        user = None if key is None else await self.users.get_by_email(key)
        usable = user is not None and not user.disabled
        try:
            await self._hasher.verify(user.password_hash if usable and user else None, password)
        except InvalidCredentials:
            await self._throttle.failed(throttle_key, address)
            security_log.warning("login failed", extra={"event": "login_failed"})
            raise
        if user is None:  # unreachable: verify() raises for a missing hash
            raise InvalidCredentials
        await self._throttle.succeeded(throttle_key, address)
        if self._hasher.needs_rehash(user.password_hash):
            # Parameters went up since this hash was made: upgrade it while we hold the password.
            await self.users.set_password_hash(user.id, await self._hasher.hash(password))
        return user

    async def change_password(self, user_id: UserId, current: str, new: str) -> None:
        """Replace the password; raise WrongPassword when `current` does not match."""
        check_password_shape(new)
        user = await self.users.get(user_id)
        if user is None or user.disabled:
            raise NotFound
        try:
            await self._hasher.verify(user.password_hash, current)
        except InvalidCredentials:
            raise WrongPassword from None
        await self.users.set_password_hash(user_id, await self._hasher.hash(new))
        security_log.info(
            "password changed", extra={"event": "password_change", "user_id": user_id}
        )

    async def set_disabled(self, user_id: UserId, disabled: bool) -> None:
        if not await self.users.set_disabled(user_id, disabled):
            raise NotFound

    async def find(self, email_or_id: str) -> User | None:
        key = lookup_key(email_or_id)
        user = await self.users.get_by_email(key) if key else None
        return user or await self.users.get(email_or_id)
