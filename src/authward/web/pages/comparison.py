"""The usual sessions-versus-JWT comparison, as the /how page shows it.

`measured` stays None until the benchmarks produce a number on a real machine: the page
then says "not measured yet" rather than show a figure nobody measured.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True, slots=True)
class Aspect:
    name: str
    sessions: str
    jwt: str
    measures: str
    measured: str | None = None


ASPECTS: Final = (
    Aspect(
        "Where the state lives",
        "A server-side store (memory, Redis, a database); the browser holds only an opaque id"
        " in a cookie.",
        "The client: a signed token in a cookie or in storage, sent in the Authorization header.",
        "Bytes stored per login on each side; store operations per request.",
    ),
    Aspect(
        "Invalidation",
        "Easy: delete the session (sign-out, timeout).",
        "Hard: valid until it expires, unless a denylist or very short lifetimes are used.",
        "Time from revoke to refusal on every node, for both (goal: 100 ms at p99 or less).",
    ),
    Aspect(
        "Scaling out",
        "Needs sticky sessions or a shared store.",
        "Nothing shared: any node verifies.",
        "Requests per second and latency per node count, with a shared Redis or PostgreSQL.",
    ),
    Aspect(
        "Main risk",
        "Session hijacking when cookies are not secured.",
        "Token theft when stored insecurely or leaked.",
        "Cookie flags, CSRF, hashed ids at rest, refresh reuse detection: each tested.",
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
        "Microseconds per check, and requests per second against a bare endpoint.",
    ),
)
