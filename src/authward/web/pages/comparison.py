"""The usual sessions-versus-JWT comparison, as the /how page shows it.

The last column says what authward's code does about each aspect, nothing it would
have to measure first. The page once had a "Measured" column that nothing ever filled
(issue 18.11): `authward bench` measures the cost per request on the machine it runs
on, and prints it there; no figure is stored for a page to show, so none is promised.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True, slots=True)
class Aspect:
    name: str
    sessions: str
    jwt: str
    authward: str


ASPECTS: Final = (
    Aspect(
        "Where the state lives",
        "A server-side store (memory, Redis, a database); the browser holds only an opaque id"
        " in a cookie.",
        "The client: a signed token in a cookie or in storage, sent in the Authorization header.",
        "A session is a row (or Redis hash) keyed by the SHA-256 of its id; a token family a row"
        " keeping only the digest of its current refresh token. An access token needs no"
        " lookup.",
    ),
    Aspect(
        "Invalidation",
        "Easy: delete the session (sign-out, timeout).",
        "Hard: valid until it expires, unless a denylist or very short lifetimes are used.",
        "Both end at once: a deleted session fails its next request; a revoked family's access"
        " tokens are refused by every node through the revocation list (pushed through Redis,"
        " or read from the database every AUTHWARD_REVOCATION_POLL_INTERVAL).",
    ),
    Aspect(
        "Scaling out",
        "Needs sticky sessions or a shared store.",
        "Nothing shared: any node verifies.",
        "Sessions in PostgreSQL or Redis, shared by every node; any node verifies a token,"
        " sharing only the revocation list.",
    ),
    Aspect(
        "Main risk",
        "Session hijacking when cookies are not secured.",
        "Token theft when stored insecurely or leaked.",
        "HttpOnly, Secure, __Host- cookies; a CSRF token on every unsafe request by cookie;"
        " ids and tokens kept only as digests; a reused refresh token revokes its family.",
    ),
    Aspect(
        "Suits",
        "Server-rendered apps with sign-in and sign-out.",
        "REST APIs, single-page and mobile apps, many services.",
        "Both at once in one deployment: pages on sessions, APIs on tokens.",
    ),
    Aspect(
        "Cost per request",
        "One store lookup.",
        "One signature check.",
        "A token seen before is checked from memory, and so is a session held in the node's"
        " cache (AUTHWARD_SESSION_CACHE_TTL). `authward bench` measures both on a machine.",
    ),
)
