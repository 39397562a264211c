"""One revocation as a message between processes: the text a push path carries.

    "<row id> <kind> <at µs> <until µs> <subject>"

The row id is the revocation's id in the SQL table (what lets a node tell a message it
already read from the table apart from a new one), or 0 when it is sent before its row
is written (a node then knows the row by its value); the times are microseconds since the
epoch, UTC; the subject comes last, so that it may hold spaces. It carries what the table
holds and nothing more: a family id, a user id or the SHA-256 of a session id (never a
token or a session id in clear).

The vocabulary is `RevocationKind`'s: a kind added there is carried here without a change,
and a message of a kind this process does not know (a newer node's) is ignored, not an
error, as is any message that does not parse.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Final, get_args

from authward.revocation.list import Revocation, RevocationKind

KINDS: Final[frozenset[str]] = frozenset(get_args(RevocationKind))
MAX_BYTES: Final = 512  # a subject is at most 64 characters (the table's column)

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def encode(row_id: int, revocation: Revocation) -> str:
    return f"{row_id} {tail(revocation)}"


def tail(revocation: Revocation) -> str:
    """The message but its row id (for a database that prefixes the id it allocates)."""
    at, until = _micros(revocation.at), _micros(revocation.until)
    return f"{revocation.kind} {at} {until} {revocation.subject}"


def decode(message: str | bytes) -> tuple[int, Revocation] | None:
    """The row id and revocation a message carries; None when it is not one we know."""
    if isinstance(message, bytes):
        if len(message) > MAX_BYTES:
            return None
        message = message.decode(errors="replace")
    parts = message.split(" ", 4)
    if len(parts) != 5:
        return None
    row_id, kind, at, until, subject = parts
    numbers = (row_id, at, until)
    if kind not in KINDS or not subject or not all(n.isascii() and n.isdigit() for n in numbers):
        return None
    try:
        instants = _from_micros(at), _from_micros(until)
    except OverflowError:  # digits, but no date
        return None
    return int(row_id), Revocation(kind, subject, *instants)  # type: ignore[arg-type]


def _micros(instant: datetime) -> int:
    return (instant - _EPOCH) // timedelta(microseconds=1)


def _from_micros(text: str) -> datetime:
    return _EPOCH + timedelta(microseconds=int(text))
