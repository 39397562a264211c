"""authward inside your own app: `Authward`, `AuthUser` and `AuthwardMiddleware`."""

from __future__ import annotations

from authward.callers import AuthUser
from authward.integration.authward import ALL_STRATEGIES, Authward, Strategy
from authward.integration.middleware import AuthwardMiddleware

__all__ = ["ALL_STRATEGIES", "AuthUser", "Authward", "AuthwardMiddleware", "Strategy"]
