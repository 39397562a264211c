"""authward inside your own app: `Authward`, `AuthUser`, `Account` and `AuthwardMiddleware`.

The names a library user meets, gathered in one place; they are built in `authward.web`
(`web.facade`, `web.middleware`) beside the routers and pages they assemble.
"""

from __future__ import annotations

from authward.accounts.models import Account
from authward.callers import AuthUser
from authward.web.facade import ALL_STRATEGIES, Authward, Strategy
from authward.web.middleware import AuthwardMiddleware

__all__ = ["ALL_STRATEGIES", "Account", "AuthUser", "Authward", "AuthwardMiddleware", "Strategy"]
