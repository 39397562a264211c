"""Authenticate a request by session cookie or bearer token, and enforce CSRF.

Used by the FastAPI dependencies of `web.deps` (and by the pages). The order is fixed:
an Authorization header, when present, decides alone (a bad one is a 401, never a fall
back to the cookie); otherwise the session cookie. Only cookie-authenticated requests
with an unsafe method need a CSRF token: a bearer token cannot be sent by a
cross-site form, a cookie can.
"""

from __future__ import annotations

from typing import Final

from starlette.requests import Request

from authward.errors import NotAuthenticated
from authward.runtime import Runtime
from authward.web.principal import Principal
from authward.web.transports import CSRF_FIELD, CSRF_HEADER, read_bearer, read_session_cookie

SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
FORM_TYPES: Final = ("application/x-www-form-urlencoded", "multipart/form-data")


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.authward_runtime
    return runtime


async def authenticate(request: Request) -> Principal | None:
    """Return who made the request, None when it carries no credential.

    Raises NotAuthenticated (or a subclass) for a credential that does not hold, and
    CsrfRejected for a cookie-authenticated unsafe request without the right token.
    """
    runtime = runtime_of(request)
    if "authorization" in request.headers:
        request.state.bearer_expected = True
    token = read_bearer(request)
    if token is not None:
        claims = runtime.tokens.verify(token)
        return Principal(user_id=claims.sub, via="jwt", handle=claims.sid)
    session_id = read_session_cookie(request, runtime.settings)
    if session_id is None:
        return None
    session = await runtime.sessions.resume(session_id)
    if request.method not in SAFE_METHODS:
        runtime.sessions.check_csrf(session_id, await presented_csrf_token(request))
    return Principal(
        user_id=session.user_id, via="session", handle=session.handle, session_id=session_id
    )


async def require(request: Request) -> Principal:
    """Like `authenticate`, but no credential at all is a 401 too."""
    principal = await authenticate(request)
    if principal is None:
        request.state.bearer_expected = True
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
