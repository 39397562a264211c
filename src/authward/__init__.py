"""authward: sessions and JWTs done right, behind one API.

Everything an app needs is importable from here; docs/library.md describes each name.
Each is imported when first used (PEP 562): ``import authward.remote.flask`` in a
service that only verifies tokens loads neither FastAPI nor SQLAlchemy nor redis.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from authward.lazy import lazy_members

if TYPE_CHECKING:
    from authward.accounts.models import Account, User
    from authward.accounts.store import MemoryUserStore, UserStore
    from authward.audit import AuditRecord, SqlAuditLog
    from authward.errors import (
        AuthwardError,
        CsrfRejected,
        EmailTaken,
        Forbidden,
        InvalidCredentials,
        InvalidInput,
        InvalidToken,
        NotAuthenticated,
        NotFound,
        StoreUnavailable,
        TooManyAttempts,
    )
    from authward.events import EVENT_KINDS, AuthEvent, EventKind, Events
    from authward.ids import UserId
    from authward.integration import AuthUser, Authward, AuthwardMiddleware, Strategy
    from authward.remote import JwksVerifier
    from authward.runtime import Runtime, build_runtime
    from authward.settings import Settings, SettingsError, load_settings

__all__ = [
    "Account",
    "AuditRecord",
    "AuthEvent",
    "AuthUser",
    "Authward",
    "AuthwardError",
    "AuthwardMiddleware",
    "CsrfRejected",
    "EVENT_KINDS",
    "EmailTaken",
    "EventKind",
    "Events",
    "Forbidden",
    "InvalidCredentials",
    "InvalidInput",
    "InvalidToken",
    "JwksVerifier",
    "MemoryUserStore",
    "NotAuthenticated",
    "NotFound",
    "Runtime",
    "Settings",
    "SettingsError",
    "SqlAuditLog",
    "StoreUnavailable",
    "Strategy",
    "TooManyAttempts",
    "User",
    "UserId",
    "UserStore",
    "build_runtime",
    "load_settings",
]

# Where each public name is defined: test_public_api.py fetches every name of __all__.
_HOMES: Final[dict[str, str]] = {
    "Account": "authward.accounts.models",
    "AuditRecord": "authward.audit",
    "AuthEvent": "authward.events",
    "AuthUser": "authward.integration",
    "Authward": "authward.integration",
    "AuthwardError": "authward.errors",
    "AuthwardMiddleware": "authward.integration",
    "CsrfRejected": "authward.errors",
    "EVENT_KINDS": "authward.events",
    "EmailTaken": "authward.errors",
    "EventKind": "authward.events",
    "Events": "authward.events",
    "Forbidden": "authward.errors",
    "InvalidCredentials": "authward.errors",
    "InvalidInput": "authward.errors",
    "InvalidToken": "authward.errors",
    "JwksVerifier": "authward.remote",
    "MemoryUserStore": "authward.accounts.store",
    "NotAuthenticated": "authward.errors",
    "NotFound": "authward.errors",
    "Runtime": "authward.runtime",
    "Settings": "authward.settings",
    "SettingsError": "authward.settings",
    "SqlAuditLog": "authward.audit",
    "StoreUnavailable": "authward.errors",
    "Strategy": "authward.integration",
    "TooManyAttempts": "authward.errors",
    "User": "authward.accounts.models",
    "UserId": "authward.ids",
    "UserStore": "authward.accounts.store",
    "build_runtime": "authward.runtime",
    "load_settings": "authward.settings",
}


__getattr__, __dir__ = lazy_members(globals(), _HOMES)
