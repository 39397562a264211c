"""How credentials travel: setting and clearing the session cookie and the token cookies.

Reading them is framework-free and lives in `authward.auth.transports` (re-exported here).

The token cookies (``AUTHWARD_TOKEN_COOKIES``) carry the JWT strategy for a browser app
that should not hold tokens where a script can read them:

* the access token in ``__Host-authward_access``: HttpOnly, Secure, ``Path=/``, the
  cookies' SameSite, ``Max-Age`` the token's lifetime;
* the refresh token in ``__Secure-authward_refresh``: HttpOnly, Secure, SameSite=Strict,
  its ``Path`` the refresh route, so no other request carries it (``__Host-`` would
  demand ``Path=/``; ``__Secure-`` still demands Secure and HTTPS);
* the family's CSRF token in ``__Host-authward_token_csrf``: readable by the page's own
  scripts (not HttpOnly), for the ``X-CSRF-Token`` header of unsafe requests. The server
  never trusts this cookie: it checks the header against an HMAC of the family id.

With ``AUTHWARD_INSECURE_COOKIES`` the names lose their prefix and the cookies ``Secure``.
"""

from __future__ import annotations

from typing import Any, Final

from starlette.requests import HTTPConnection
from starlette.responses import Response
from starlette.routing import NoMatchFound
from starlette.types import Scope

# Reading a credential is framework-free; these names stay importable from here.
from authward.auth.transports import MAX_TOKEN_LENGTH as MAX_TOKEN_LENGTH
from authward.auth.transports import access_cookie_name as access_cookie_name
from authward.auth.transports import bearer_token as bearer_token
from authward.auth.transports import cookie_in as cookie_in
from authward.auth.transports import session_cookie_name as session_cookie_name
from authward.settings import Settings
from authward.tokens.service import TokenPair

CSRF_HEADER: Final = "x-csrf-token"
CSRF_FIELD: Final = "csrf_token"

SECURE_REFRESH_COOKIE: Final = "__Secure-authward_refresh"
INSECURE_REFRESH_COOKIE: Final = "authward_refresh"
SECURE_FAMILY_CSRF_COOKIE: Final = "__Host-authward_token_csrf"
INSECURE_FAMILY_CSRF_COOKIE: Final = "authward_token_csrf"
REFRESH_ROUTE: Final = "authward_token_refresh"  # the refresh route's name, for its path
DEFAULT_REFRESH_PATH: Final = "/auth/token/refresh"


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


def refresh_cookie_name(settings: Settings) -> str:
    return INSECURE_REFRESH_COOKIE if settings.insecure_cookies else SECURE_REFRESH_COOKIE


def token_csrf_cookie_name(settings: Settings) -> str:
    return INSECURE_FAMILY_CSRF_COOKIE if settings.insecure_cookies else SECURE_FAMILY_CSRF_COOKIE


def read_refresh_cookie(connection: HTTPConnection, settings: Settings) -> str | None:
    value = connection.cookies.get(refresh_cookie_name(settings))
    return value if value else None


def refresh_path(scope: Scope) -> str:
    """The path of the refresh route in the app serving `scope`, wherever it is mounted.

    Built from the router and the root path, as ``url_for`` would, but never from the
    request's ``Host`` header. An app without the route gets the default path.
    """
    router: Any = scope.get("router") or scope.get("app")
    try:
        path = str(router.url_path_for(REFRESH_ROUTE))
    except (NoMatchFound, AttributeError):
        return DEFAULT_REFRESH_PATH
    root: str = scope.get("app_root_path", scope.get("root_path", ""))
    return root.rstrip("/") + path


def set_token_cookies(
    response: Response,
    pair: TokenPair,
    csrf_token: str,
    *,
    refresh_max_age: int,
    refresh_path: str,
    settings: Settings,
) -> None:
    """Put a token pair and its family's CSRF token in cookies (see the module's doc)."""
    secure = not settings.insecure_cookies
    set_access_cookie(response, pair.access_token, pair.expires_in, settings)
    response.set_cookie(
        refresh_cookie_name(settings),
        pair.refresh_token,
        max_age=refresh_max_age,
        path=refresh_path,
        secure=secure,
        httponly=True,
        samesite="strict",  # only the app's own scripts call the refresh route
    )
    response.set_cookie(
        token_csrf_cookie_name(settings),
        csrf_token,
        max_age=refresh_max_age,
        path="/",
        secure=secure,
        httponly=False,  # the page's scripts read it for the X-CSRF-Token header
        samesite="strict",
    )


def set_access_cookie(
    response: Response, access_token: str, expires_in: int, settings: Settings
) -> None:
    """Put an access token in its cookie (the access half of `set_token_cookies`)."""
    response.set_cookie(
        access_cookie_name(settings),
        access_token,
        max_age=expires_in,
        path="/",
        secure=not settings.insecure_cookies,
        httponly=True,
        samesite=settings.same_site,
    )


def clear_token_cookies(response: Response, *, refresh_path: str, settings: Settings) -> None:
    """Tell the browser to drop the three token cookies."""
    secure = not settings.insecure_cookies
    for name, path, httponly in (
        (access_cookie_name(settings), "/", True),
        (refresh_cookie_name(settings), refresh_path, True),
        (token_csrf_cookie_name(settings), "/", False),
    ):
        response.delete_cookie(name, path=path, secure=secure, httponly=httponly)
