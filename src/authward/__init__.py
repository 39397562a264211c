"""authward: sessions and JWTs done right, behind one API.

Everything an app needs is importable from here; docs/library.md describes each name.
"""

from authward.accounts.models import User
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
