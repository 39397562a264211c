"""Say, in one line, which store failed and why: for the command line and the server's start.

A store that cannot be used reaches the top as `StoreUnavailable` (translated where it
happened), as the driver's own error (a database that does not exist, a Redis database
index out of range: configuration, not an outage) or as a bare `OSError` from a connect.
`diagnose` finds the store and the driver's reason in the exception's chain; the URLs an
operator is shown go through `masked_database_url` and `masked_redis_url`, which never
show a password.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from redis.exceptions import RedisError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError

from authward.errors import StoreUnavailable

Store = Literal["database", "redis"]

MASK: Final = "***"
_SECRET_OPTIONS: Final = frozenset({"password", "pass", "passwd"})


@dataclass(frozen=True, slots=True)
class StoreFailure:
    """Which store failed, and the driver's reason in one line (no URL, no password)."""

    store: Store
    reason: str


def diagnose(exc: BaseException) -> StoreFailure | None:
    """The store that `exc` (or an exception it came from) is about; None: no store's.

    The reason is the deepest exception's first line: the driver's own words ("database
    "x" does not exist", "DB index is out of range", "Connect call failed ...").
    """
    store: Store | None = None
    for link in _chain(exc):
        if isinstance(link, StoreUnavailable) and link.store in ("database", "redis"):
            store = store or link.store  # type: ignore[assignment]
        elif isinstance(link, SQLAlchemyError) and not isinstance(link, ArgumentError):
            store = store or "database"
        elif isinstance(link, RedisError):
            store = store or "redis"
    if store is None:
        return None
    return StoreFailure(store, _reason(exc))


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    link: BaseException | None = exc
    while link is not None and id(link) not in seen:
        seen.add(id(link))
        yield link
        if isinstance(link, DBAPIError) and isinstance(link.orig, BaseException):
            # SQLAlchemy keeps the driver's error as `orig`; its message has no URL.
            link = link.orig
        elif link.__cause__ is not None or link.__suppress_context__:
            link = link.__cause__  # `raise X from None` hides what came before, on purpose
        else:
            link = link.__context__


def _reason(exc: BaseException) -> str:
    words = ""
    for link in _chain(exc):
        text = str(link).strip()
        if isinstance(link, DBAPIError):
            text = str(link.orig).strip() if link.orig is not None else text
        if text and not isinstance(link, StoreUnavailable):
            words = text
    # asyncpg's errors read "<class 'asyncpg.exceptions.X'>: the message".
    first = (words or "does not answer").splitlines()[0]
    return first.split(">: ", 1)[1] if first.startswith("<class ") and ">: " in first else first


def masked_database_url(url: str) -> str:
    """`url` as an operator may see it: the password, in the URL or its query, hidden."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        return "(an unreadable URL)"
    hidden = {name: MASK for name in parsed.query if name.lower() in _SECRET_OPTIONS}
    if hidden:
        parsed = parsed.update_query_dict(hidden)
    return parsed.render_as_string(hide_password=True)


def masked_redis_url(url: str) -> str:
    """A Redis URL (one node, a socket or a cluster's seed list) with its password hidden."""
    parts = urlsplit(url)
    userinfo, at, hosts = parts.netloc.rpartition("@")
    if at and ":" in userinfo:
        userinfo = userinfo.partition(":")[0] + ":" + MASK
    elif at and userinfo:
        userinfo = MASK  # redis://secret@host: a lone password, as redis-py reads it
    query = urlencode(
        [
            (name, MASK if name.lower() in _SECRET_OPTIONS else value)
            for name, value in parse_qsl(parts.query, keep_blank_values=True)
        ],
        safe="*",
    )
    netloc = f"{userinfo}{at}{hosts}"
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
