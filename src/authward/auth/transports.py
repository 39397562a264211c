"""How a credential travels to us: the bearer header, the session cookie, the token cookie.

Read straight from the raw ASGI header pairs, with no web framework: the `Authenticator`
and the remote verifier read them alike. A transport only finds a credential; what it
means is a strategy's business (`authward.auth.strategies`).
"""

from __future__ import annotations

from collections.abc import Iterable
from http.cookies import _unquote
from typing import Final

from authward.errors import InvalidToken
from authward.settings import Settings

__all__ = [
    "MAX_TOKEN_LENGTH",
    "access_cookie_name",
    "bearer_token",
    "cookie_in",
    "credential_headers",
    "session_cookie_name",
]

SECURE_SESSION_COOKIE: Final = "__Host-authward_session"
INSECURE_SESSION_COOKIE: Final = "authward_session"
SECURE_ACCESS_COOKIE: Final = "__Host-authward_access"
INSECURE_ACCESS_COOKIE: Final = "authward_access"
MAX_TOKEN_LENGTH: Final = 8192


def session_cookie_name(settings: Settings) -> str:
    # __Host- makes the browser refuse the cookie unless it is Secure, Path=/ and has no
    # Domain: a sibling subdomain cannot plant or overwrite it (cookie tossing).
    return INSECURE_SESSION_COOKIE if settings.insecure_cookies else SECURE_SESSION_COOKIE


def access_cookie_name(settings: Settings) -> str:
    return INSECURE_ACCESS_COOKIE if settings.insecure_cookies else SECURE_ACCESS_COOKIE


def credential_headers(headers: Iterable[tuple[bytes, bytes]]) -> tuple[str | None, list[str]]:
    """The first Authorization header and every Cookie header of a request, in one pass.

    The same values Starlette's ``request.headers.get("authorization")`` and
    ``request.cookies`` read, without building either: this runs on every request.
    """
    authorization: str | None = None
    cookies: list[str] = []
    for name, value in headers:
        if name == b"authorization":
            if authorization is None:
                authorization = value.decode("latin-1")
        elif name == b"cookie":
            cookies.append(value.decode("latin-1"))
    return authorization, cookies


def cookie_in(cookie_headers: list[str], name: str) -> str | None:
    """The cookie `name` among `cookie_headers`, as Starlette's ``request.cookies`` has it.

    Starlette's parser, pair by pair, for this cookie only: a later pair wins, and a
    quoted value is unquoted as that parser does (with the standard library's unquote).
    """
    value = None
    for header in cookie_headers:
        if name not in header:
            continue
        for pair in header.split(";"):
            key, equals, found = pair.partition("=")
            if equals and key.strip() == name:
                found = found.strip()
                value = _unquote(found) if found.startswith('"') else found
    return value if value else None


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
