"""The ceilings and the window, from settings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from authward.settings import Settings


@dataclass(frozen=True, slots=True)
class ThrottlePolicy:
    max_failures: int
    account_max_failures: int
    window: timedelta
    refresh_max_failures: int = 100
    refresh_token_max_failures: int = 5
    register_max_attempts: int = 20
    address_max_failures: int = 100
    # Mailed links (reset, verification): requests per client address, mails per account.
    mail_address_max_attempts: int = 10
    mail_account_max: int = 3
    # Passkey challenges handed out per client address (options requests).
    passkey_options_max_attempts: int = 100

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
            passkey_options_max_attempts=settings.login_address_max_failures,
        )
