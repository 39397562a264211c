"""The one table from authward's errors to HTTP answers, without a web framework.

`web/errors.py` builds FastAPI's responses from it; the Flask and Django helpers of
`authward.remote` build their own, so a service that only verifies tokens answers as
authward does without loading FastAPI or Starlette.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from authward.errors import (
    AuthwardError,
    EmailTaken,
    FactorExists,
    Forbidden,
    InvalidInput,
    InvalidToken,
    NotAuthenticated,
    NotFound,
    PayloadTooLarge,
    ReauthRequired,
    StoreUnavailable,
    TooManyAttempts,
    TooManyPasskeys,
)

__all__ = ["error_parts", "public_code", "status_of", "step_up_challenge"]

_STATUS: Final[Mapping[type[AuthwardError], int]] = {
    InvalidInput: 422,
    PayloadTooLarge: 413,
    NotAuthenticated: 401,
    Forbidden: 403,
    NotFound: 404,
    EmailTaken: 409,
    FactorExists: 409,
    TooManyPasskeys: 409,
    TooManyAttempts: 429,
    StoreUnavailable: 503,
    AuthwardError: 400,  # the fallback: no input, however malformed, becomes a 500
}


def status_of(exc: AuthwardError) -> int:
    # The nearest class in the MRO wins, so a new subclass needs no entry here.
    return next(_STATUS[cls] for cls in type(exc).__mro__ if cls in _STATUS)


def error_parts(exc: AuthwardError, *, bearer: bool = False) -> tuple[int, str, dict[str, str]]:
    """The status, detail and headers of the answer to `exc`."""
    status = status_of(exc)
    headers: dict[str, str] = {}
    if status == 401 and bearer:
        invalid = isinstance(exc, InvalidToken)
        headers["WWW-Authenticate"] = 'Bearer error="invalid_token"' if invalid else "Bearer"
    if isinstance(exc, ReauthRequired):
        # RFC 9470 §3: the challenge goes to cookie callers too, so a browser app's code
        # learns why and how recent the login must be.
        headers["WWW-Authenticate"] = step_up_challenge(exc)
    if isinstance(exc, TooManyAttempts):
        headers["Retry-After"] = str(exc.retry_after)
    if isinstance(exc, StoreUnavailable):
        headers["Retry-After"] = "2"
    detail = exc.message if isinstance(exc, InvalidInput | StoreUnavailable) else exc.detail
    return status, detail, headers


def public_code(exc: AuthwardError) -> str:
    """The code a client is told: that of the most general class with the same detail.

    A code tells no more than the detail: an expired, revoked or reused token is
    ``invalid_token`` (a thief learns nothing), an expired session ``not_authenticated``;
    the finer codes stay in the metrics.
    """
    classes = [c for c in type(exc).__mro__ if issubclass(c, AuthwardError)]
    chosen = classes[0]
    for cls in classes[1:]:
        if cls.detail != chosen.detail:
            break
        chosen = cls
    return chosen.code


def step_up_challenge(exc: ReauthRequired) -> str:
    """The RFC 9470 ``WWW-Authenticate`` value for a login too old or too weak."""
    parts = [
        'Bearer error="insufficient_user_authentication"',
        f'error_description="{exc.detail}"',
    ]
    if exc.acr is not None:
        parts.append(f'acr_values="{exc.acr}"')
    parts.append(f"max_age={exc.max_age}")
    return ", ".join(parts)
