"""Authenticate a request by bearer token, session cookie or token cookie; enforce CSRF.

Used by the API's routes, `Authward`'s dependencies and its middleware. The order is
fixed:

1. an Authorization header, when present, decides alone (a bad one is a 401, never a
   fall back to a cookie);
2. otherwise the session cookie;
3. otherwise, with ``AUTHWARD_TOKEN_COOKIES``, the access-token cookie. It is also read
   when the session cookie no longer works (ended, expired): a stale cookie of one kind
   does not hide a live one of the other. A CSRF refusal or a store that does not answer
   never falls through.

Only cookie-authenticated requests with an unsafe method need a CSRF token: a bearer
token cannot be sent by a cross-site form, a cookie can.
"""

from __future__ import annotations

from typing import Final

from starlette.requests import Request
from starlette.types import Scope

from authward.errors import AuthwardError, InvalidToken, NotAuthenticated
from authward.metrics import JWT_OK, SESSION_OK, count_refused
from authward.runtime import Runtime
from authward.sessions.models import Session
from authward.tokens.models import AccessClaims
from authward.web.errors import expect_bearer
from authward.web.principal import Principal
from authward.web.transports import (
    CSRF_FIELD,
    CSRF_HEADER,
    MAX_TOKEN_LENGTH,
    access_cookie_name,
    bearer_token,
    cookie_in,
    credential_headers,
    session_cookie_in,
)

SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
FORM_TYPES: Final = ("application/x-www-form-urlencoded", "multipart/form-data")
RUNTIME_STATE: Final = "authward_runtime"


def runtime_of(request: Request) -> Runtime:
    # The runtime an Authward bound to this request (its router, dependencies or
    # middleware: see authward.integration), else the one of the app authward serves.
    runtime: Runtime | None = request.scope.get("state", {}).get(RUNTIME_STATE)
    if runtime is None:
        runtime = request.app.state.authward_runtime
    return runtime


async def authenticate(request: Request) -> Principal | None:
    """Return who made the request, None when it carries no credential.

    Raises NotAuthenticated (or a subclass) for a credential that does not hold, and
    CsrfRejected for a cookie-authenticated unsafe request without the right token.
    """
    runtime = runtime_of(request)
    authorization, cookies = credential_headers(request.scope)
    if authorization is not None:
        claims = token_claims(runtime, request.scope, authorization)
        return Principal(user_id=claims.sub, via="jwt", handle=claims.sid)
    session_id = session_cookie_in(cookies, runtime.settings)
    if session_id is not None:
        try:
            return await session_principal(runtime, request, session_id)
        except NotAuthenticated:
            if (principal := await token_cookie_principal(runtime, request, cookies)) is None:
                raise
            return principal
    if not runtime.settings.token_cookies:
        return None  # the anonymous path stays as lean as it was
    return await token_cookie_principal(runtime, request, cookies)


async def token_cookie_principal(
    runtime: Runtime, request: Request, cookies: list[str]
) -> Principal | None:
    """The caller by access-token cookie; None when token cookies are off or it is absent."""
    if not runtime.settings.token_cookies:
        return None
    token = cookie_in(cookies, access_cookie_name(runtime.settings))
    if token is None:
        return None
    claims = await cookie_token_claims(runtime, request, token)
    return Principal(user_id=claims.sub, via="jwt", handle=claims.sid)


async def cookie_token_claims(runtime: Runtime, request: Request, token: str) -> AccessClaims:
    """The claims of an access token that came in a cookie; its family's CSRF token checked
    on unsafe methods. Raises NotAuthenticated (or a subclass), or CsrfRejected."""
    try:
        if len(token) > MAX_TOKEN_LENGTH:
            raise InvalidToken
        claims = runtime.tokens.verify(token)
    except AuthwardError as exc:
        count_refused("jwt", exc)
        raise
    JWT_OK.inc()
    if request.method not in SAFE_METHODS:
        runtime.tokens.check_csrf(claims.sid, await presented_csrf_token(request))
    return claims


def token_claims(runtime: Runtime, scope: Scope, authorization: str) -> AccessClaims:
    """The claims of the token in this Authorization header; no I/O, no await.

    Raises NotAuthenticated (or a subclass) unless it is a valid bearer token.
    """
    try:
        claims = runtime.tokens.verify(bearer_token(authorization))
    except AuthwardError as exc:
        count_refused("jwt", exc)
        expect_bearer(scope)  # even for another scheme: the 401 names the one we take
        raise
    JWT_OK.inc()
    return claims


async def session_principal(runtime: Runtime, request: Request, session_id: str) -> Principal:
    """The caller by this session cookie, with its CSRF token checked on unsafe methods."""
    session = await live_session(runtime, request, session_id)
    return Principal(
        user_id=session.user_id, via="session", handle=session.handle, session_id=session_id
    )


def held_session(runtime: Runtime, method: str, session_id: str) -> Session | None:
    """The session of this cookie as this process holds it fresh, for a safe method; no await.

    None sends the caller to `live_session`: no fresh copy here, a slide due, or an unsafe
    method (whose CSRF token may be in the body).
    """
    if method not in SAFE_METHODS:
        return None
    session = runtime.sessions.held(session_id)
    if session is not None:
        SESSION_OK.inc()
    return session


async def live_session(runtime: Runtime, request: Request, session_id: str) -> Session:
    """The live session of this cookie, slid; its CSRF token checked on unsafe methods."""
    try:
        session = await runtime.sessions.resume(session_id)
    except AuthwardError as exc:
        count_refused("session", exc)
        raise
    SESSION_OK.inc()
    if request.method not in SAFE_METHODS:
        runtime.sessions.check_csrf(session_id, await presented_csrf_token(request))
    return session


async def require(request: Request) -> Principal:
    """Like `authenticate`, but no credential at all is a 401 too."""
    principal = await authenticate(request)
    if principal is None:
        expect_bearer(request.scope)
        raise NotAuthenticated
    return principal


async def require_token(request: Request) -> Principal:
    """The caller by access token, in the Authorization header or the token cookie; 401
    otherwise. A session cookie is no answer here, even beside a token cookie."""
    runtime = runtime_of(request)
    authorization, cookies = credential_headers(request.scope)
    principal = None
    if authorization is not None:
        claims = token_claims(runtime, request.scope, authorization)
        principal = Principal(user_id=claims.sub, via="jwt", handle=claims.sid)
    else:
        principal = await token_cookie_principal(runtime, request, cookies)
    if principal is None:
        expect_bearer(request.scope)
        raise NotAuthenticated
    return principal


async def presented_csrf_token(request: Request) -> str | None:
    """The CSRF token from the header, or from an HTML form's `csrf_token` field."""
    if header := request.headers.get(CSRF_HEADER):
        return header
    if request.headers.get("content-type", "").startswith(FORM_TYPES):
        value = (await request.form()).get(CSRF_FIELD)
        return value if isinstance(value, str) else None
    return None
