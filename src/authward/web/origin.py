"""Where a browser says a request comes from: the first defence against cross-site posts.

Shared by the pages' forms and by the API routes that set a cookie (the session login,
and the token routes when ``AUTHWARD_TOKEN_COOKIES`` is on). A cross-site form or
``text/plain`` POST is a "simple request" that no CORS preflight stops; the browser
still says where it came from (``Sec-Fetch-Site``, ``Origin``), and anything but this
very origin is refused before the body is even read (OWASP CSRF Cheat Sheet, "Login
CSRF"). A client that sends neither header (curl, another server) is not a browser:
no one's ambient cookies ride on its requests, so it goes on.
"""

from __future__ import annotations

import logging
from typing import Final, NoReturn
from urllib.parse import urlsplit

from starlette.requests import HTTPConnection

from authward.errors import CsrfRejected

security_log = logging.getLogger("authward.security")

ALLOWED_FETCH_SITES: Final = frozenset({"same-origin", "none"})


def check_origin(connection: HTTPConnection) -> None:
    """Raise CsrfRejected unless the browser says this request comes from this origin.

    ``same-site`` is refused too: a sibling subdomain is not us. A foreign ``Origin`` is
    refused; ``Origin: null`` (sent under some referrer policies) only passes when Fetch
    Metadata vouches for the request.
    """
    fetch_site = connection.headers.get("sec-fetch-site")
    if fetch_site is not None and fetch_site not in ALLOWED_FETCH_SITES:
        reject("cross-site post")
    origin = connection.headers.get("origin")
    if origin is None or (origin == "null" and fetch_site == "same-origin"):
        return
    host = connection.headers.get("host", "").lower()
    if origin == "null" or not host or _netloc(origin) != host:
        reject("foreign origin")


def _netloc(origin: str) -> str | None:
    try:
        return urlsplit(origin).netloc.lower()
    except ValueError:  # "http://[" and the like: no origin of ours
        return None


def reject(reason: str) -> NoReturn:
    """Log why a request was refused as a forgery (never what it carried), and refuse it."""
    security_log.warning(reason, extra={"event": "csrf_rejected"})
    raise CsrfRejected
