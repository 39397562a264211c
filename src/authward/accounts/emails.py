"""Email addresses as keys: normalised once, compared as strings."""

from __future__ import annotations

import unicodedata
from typing import Final

from email_validator import EmailNotValidError, validate_email

from authward.errors import InvalidInput

MAX_EMAIL_LENGTH: Final = 254  # RFC 5321 path limit
MAX_EMAIL_INPUT_LENGTH: Final = 320  # what a client may send: room for spaces and NFKC forms


def normalize_email(raw: str) -> str:
    """Return the canonical form of `raw` (NFKC, case-folded), or raise InvalidInput.

    ``Ａlice@Example.COM`` and ``alice@example.com`` are one account: NFKC folds
    compatibility forms and ``casefold`` folds case more thoroughly than ``lower``.
    """
    candidate = unicodedata.normalize("NFKC", raw.strip()).casefold()
    if not candidate or len(candidate) > MAX_EMAIL_LENGTH:
        raise InvalidInput("Invalid email address.")
    try:
        checked = validate_email(candidate, check_deliverability=False)
    except EmailNotValidError:
        raise InvalidInput("Invalid email address.") from None
    return checked.normalized.casefold()


def lookup_key(raw: str) -> str | None:
    """Return the normalised form of `raw` for a lookup, or None when it cannot be anyone's."""
    try:
        return normalize_email(raw)
    except InvalidInput:
        return None
