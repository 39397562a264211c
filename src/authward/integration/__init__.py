"""authward inside your own app: `Authward`, `AuthUser` and `AuthwardMiddleware`."""

from __future__ import annotations

from authward.integration.authward import ALL_STRATEGIES, Authward, Strategy
from authward.integration.middleware import AuthwardMiddleware
from authward.integration.users import AuthUser

__all__ = ["ALL_STRATEGIES", "AuthUser", "Authward", "AuthwardMiddleware", "Strategy"]
