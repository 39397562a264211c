"""How credentials travel: the session cookie and the bearer header."""

from __future__ import annotations

from typing import Final

from starlette.requests import HTTPConnection, cookie_parser
from starlette.responses import Response
from starlette.types import Scope

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


def credential_headers(scope: Scope) -> tuple[str | None, list[str]]:
    """The first Authorization header and every Cookie header of a request, in one pass.

    The same values Starlette's ``request.headers.get("authorization")`` and
    ``request.cookies`` read, without building either: this runs on every request.
    """
    authorization: str | None = None
    cookies: list[str] = []
    for name, value in scope["headers"]:
        if name == b"authorization":
            if authorization is None:
                authorization = value.decode("latin-1")
        elif name == b"cookie":
            cookies.append(value.decode("latin-1"))
    return authorization, cookies


def session_cookie_in(cookie_headers: list[str], settings: Settings) -> str | None:
    """The session cookie among `cookie_headers`, as `read_session_cookie` finds it.

    Starlette's parser, pair by pair, for our cookie only: a later pair wins, and a
    quoted value is unquoted by the parser itself.
    """
    name = session_cookie_name(settings)
    value = None
    for header in cookie_headers:
        if name not in header:
            continue
        for pair in header.split(";"):
            key, equals, found = pair.partition("=")
            if equals and key.strip() == name:
                found = found.strip()
                value = cookie_parser(pair)[name] if found.startswith('"') else found
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


def bearer_token(header: str) -> str:
    """The token of an Authorization header's value.

    A header that is present but not a well-formed bearer credential raises InvalidToken:
    a client that tried to authenticate and failed gets a 401, not anonymous access.
    """
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > MAX_TOKEN_LENGTH:
        raise InvalidToken
    return token
