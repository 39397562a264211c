"""How credentials travel: the session cookie and the bearer header."""

from __future__ import annotations

from typing import Final

from starlette.requests import HTTPConnection
from starlette.responses import Response

from authward.errors import InvalidToken
from authward.settings import Settings

SECURE_SESSION_COOKIE: Final = "__Host-authward_session"
INSECURE_SESSION_COOKIE: Final = "authward_session"
CSRF_HEADER: Final = "x-csrf-token"
CSRF_FIELD: Final = "csrf_token"
MAX_TOKEN_LENGTH: Final = 8192


def session_cookie_name(settings: Settings) -> str:
    # __Host- makes the browser refuse the cookie unless it is Secure, Path=/ and has no
    # Domain: a sibling subdomain cannot plant or overwrite it (cookie tossing).
    return INSECURE_SESSION_COOKIE if settings.insecure_cookies else SECURE_SESSION_COOKIE


def read_session_cookie(connection: HTTPConnection, settings: Settings) -> str | None:
    value = connection.cookies.get(session_cookie_name(settings))
    return value if value else None


def set_session_cookie(response: Response, session_id: str, settings: Settings) -> None:
    response.set_cookie(
        session_cookie_name(settings),
        session_id,
        max_age=settings.session_absolute_ttl,
        path="/",
        secure=not settings.insecure_cookies,
        httponly=True,
        samesite=settings.same_site,
    )


def clear_session_cookie(response: Response, settings: Settings) -> None:
    response.delete_cookie(
        session_cookie_name(settings),
        path="/",
        secure=not settings.insecure_cookies,
        httponly=True,
        samesite=settings.same_site,
    )


def read_bearer(connection: HTTPConnection) -> str | None:
    """The bearer token of the Authorization header; None when there is no header.

    A header that is present but not a well-formed bearer credential raises InvalidToken:
    a client that tried to authenticate and failed gets a 401, not anonymous access.
    """
    header = connection.headers.get("authorization")
    if header is None:
        return None
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > MAX_TOKEN_LENGTH:
        raise InvalidToken
    return token
