"""Authentication, framework-free: one `Authenticator` of transports × strategies.

Transports (`authward.auth.transports`) find a credential in a request's headers: the
bearer header, the session cookie, the access-token cookie. Strategies
(`authward.auth.strategies`) say what it means: a live session, a valid access token.
The `Authenticator` puts them in the one order and returns one caller type, `AuthUser`.
Authward's dependencies, middleware, API routes and pages all ask it; the remote
verifier reads the bearer header with the same transport.
"""

from __future__ import annotations

from authward.auth.authenticator import (
    ALL_VIAS,
    JWT_ONLY,
    SAFE_METHODS,
    SESSION_ONLY,
    Authenticator,
)

__all__ = ["ALL_VIAS", "JWT_ONLY", "SAFE_METHODS", "SESSION_ONLY", "Authenticator"]
