"""The API's way to the caller: `authward.auth.Authenticator`, with HTTP's refusals.

Used by the API's routes. The order of credentials is the Authenticator's (the bearer
header decides alone, then the session cookie, then the token cookie); here a
credential that does not hold is raised for the error handlers to answer, and a 401
after a bearer credential names the Bearer scheme.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

from starlette.requests import HTTPConnection, Request
from starlette.types import Scope

from authward.assurance import Assurance, Level, require_recent
from authward.auth import ALL_VIAS, JWT_ONLY, SAFE_METHODS
from authward.auth.transports import credential_headers
from authward.callers import AuthUser
from authward.errors import AuthwardError, NotAuthenticated
from authward.ids import Via
from authward.runtime import Runtime
from authward.web.addresses import client_address
from authward.web.transports import CSRF_FIELD, CSRF_HEADER, read_session_cookie

__all__ = [
    "BEARER_EXPECTED",
    "FORM_TYPES",
    "assurance_of",
    "OUTCOME_KEY",
    "RUNTIME_STATE",
    "SAFE_METHODS",
    "authenticate",
    "bearer_expected",
    "bind_runtime",
    "expect_bearer",
    "presented_csrf_token",
    "remember_outcome",
    "require",
    "require_recent_login",
    "require_step_up",
    "require_token",
    "runtime_of",
    "session_id_of",
]

FORM_TYPES: Final = ("application/x-www-form-urlencoded", "multipart/form-data")
LONG_AGO: Final = datetime.min.replace(tzinfo=UTC)
# The request's scope carries what authentication found out, under these keys alone:
# the runtime serving it and whether a 401 names the Bearer scheme (in its state), and
# the middleware's outcome.
RUNTIME_STATE: Final = "authward_runtime"
BEARER_EXPECTED: Final = "bearer_expected"
OUTCOME_KEY: Final = "authward.outcome"

# What the middleware found: the caller, nobody, or a refusal a dependency raises again.
Outcome = AuthUser | AuthwardError | None


def bind_runtime(scope: Scope, runtime: Runtime) -> None:
    """Make `runtime` the one authward's code uses for this request."""
    scope.setdefault("state", {})[RUNTIME_STATE] = runtime


def remember_outcome(
    scope: Scope, runtime: Runtime, accepted: frozenset[Via], outcome: Outcome
) -> None:
    """Keep what `AuthwardMiddleware` found for this request, so no dependency asks again.

    Kept with the strategies it was asked for: a dependency that accepts others asks
    again (a session-only route must not inherit a token cookie's CSRF refusal).
    """
    scope[OUTCOME_KEY] = (runtime, accepted, outcome)


def expect_bearer(scope: Scope) -> None:
    """Mark the request as one whose 401 names the Bearer scheme (see `bearer_expected`)."""
    scope.setdefault("state", {})[BEARER_EXPECTED] = True


def bearer_expected(connection: HTTPConnection) -> bool:
    """A 401 carries ``WWW-Authenticate: Bearer`` where a bearer token was used or expected."""
    return bool(connection.scope.get("state", {}).get(BEARER_EXPECTED)) or connection.headers.get(
        "authorization", ""
    ).lower().startswith("bearer")


def runtime_of(request: Request) -> Runtime:
    # The runtime an Authward bound to this request (its router, dependencies or
    # middleware: see authward.web.middleware), else the one of the app authward serves.
    runtime: Runtime | None = request.scope.get("state", {}).get(RUNTIME_STATE)
    if runtime is None:
        runtime = request.app.state.authward_runtime
    return runtime


async def authenticate(request: Request, accepted: frozenset[Via] = ALL_VIAS) -> AuthUser | None:
    """Return who made the request by a strategy in `accepted`, None without a credential.

    Raises NotAuthenticated (or a subclass) for a credential that does not hold, and
    CsrfRejected for a cookie-authenticated unsafe request without the right token.
    """
    return await _caller(request, accepted)


async def require(request: Request) -> AuthUser:
    """Like `authenticate`, but no credential at all is a 401 too."""
    caller = await authenticate(request)
    if caller is None:
        expect_bearer(request.scope)
        raise NotAuthenticated
    return caller


async def require_token(request: Request) -> AuthUser:
    """The caller by access token, in the Authorization header or the token cookie; 401
    otherwise. A session cookie is no answer here, even beside a token cookie."""
    caller = await _caller(request, JWT_ONLY)
    if caller is None:
        expect_bearer(request.scope)
        raise NotAuthenticated
    return caller


def session_id_of(request: Request, caller: AuthUser) -> str | None:
    """The session id of a caller the session strategy authenticated, else None.

    Such a caller came by the session cookie, so the cookie's value is its session's id.
    """
    if caller.via != "session":
        return None
    return read_session_cookie(request, runtime_of(request).settings)


async def presented_csrf_token(request: Request) -> str | None:
    """The CSRF token from the header, or from an HTML form's `csrf_token` field."""
    if header := request.headers.get(CSRF_HEADER):
        return header
    if request.headers.get("content-type", "").startswith(FORM_TYPES):
        value = (await request.form()).get(CSRF_FIELD)
        return value if isinstance(value, str) else None
    return None


async def _caller(request: Request, accepted: frozenset[Via]) -> AuthUser | None:
    authenticator = runtime_of(request).authenticator
    authorization, cookies = credential_headers(request.scope["headers"])
    try:
        return await authenticator.caller(
            request, presented_csrf_token, request.method, authorization, cookies, accepted
        )
    except AuthwardError:
        if authorization is not None:
            expect_bearer(request.scope)  # even for another scheme: the 401 names ours
        raise


def assurance_of(caller: AuthUser) -> Assurance:
    """How the caller's login authenticated, as the strategy that found it said.

    Nothing is read again: the session's record or the token's claims were read to
    authenticate `caller`, and it carries their `auth_time` and `amr`. A caller made
    without them (an app's test override) counts as a login of long ago: step-up asks
    for a fresh one rather than trust what nobody checked.
    """
    return Assurance(caller.auth_time or LONG_AGO, caller.amr or ("pwd",))


async def require_recent_login(
    request: Request, caller: AuthUser, *, max_age: int | None = None, aal: Level | None = None
) -> None:
    """Step-up: raise ReauthRequired unless `caller`'s login is recent (and strong) enough.

    `max_age` defaults to ``AUTHWARD_REAUTH_MAX_AGE``. The login's time and methods are
    those of the credential that authenticated `caller` (`assurance_of`).
    """
    runtime = runtime_of(request)
    limit = runtime.settings.reauth_max_age if max_age is None else max_age
    require_recent(assurance_of(caller), runtime.clock.now(), max_age=limit, aal=aal)


async def require_step_up(request: Request, caller: AuthUser, current_password: str | None) -> None:
    """A sensitive change (RFC 9470 step-up): the current password, or a recent login.

    With `current_password` (from the body), it is checked and counted as a failed
    login when wrong (WrongPassword, 403; TooManyAttempts past the limits): the
    contract counts it as an authentication just made. Without it, the login must be
    within ``AUTHWARD_REAUTH_MAX_AGE`` (`require_recent_login`), else ReauthRequired:
    401 with the challenge, which ``POST /auth/reauth`` answers.
    """
    if current_password is None:
        await require_recent_login(request, caller)
        return
    runtime = runtime_of(request)
    address = client_address(request.scope, runtime.settings.trusted_proxies)
    await runtime.accounts.confirm_password(caller.id, current_password, address=address)
