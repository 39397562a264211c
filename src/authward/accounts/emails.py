"""Email addresses as keys: normalised once, compared as strings; look-alikes kept apart."""

from __future__ import annotations

import hashlib
import unicodedata
from typing import Final

import icu
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


# ICU's implementation of Unicode TS #39 and its confusables data (pyicu-wheels bundles ICU).
# Made once: it loads the data. Checking through it never changes it, which ICU documents
# as safe from any number of threads.
_SPOOF_CHECKER: Final = icu.SpoofChecker()


def skeleton(email: str) -> str:
    """Return the confusable skeleton of the normalised `email` (Unicode TS #39, section 4).

    Two addresses a reader cannot tell apart have the same skeleton: ``adа@example.com``
    (a Cyrillic ``а``) and ``ada@example.com``, ``ıda@`` and ``ida@``, but also ``rn`` and
    ``m``, or ``1`` and ``l``. A skeleton is only ever compared, never shown or mailed.
    """
    # The type argument is ignored since ICU 58: there is one skeleton.
    return str(_SPOOF_CHECKER.getSkeleton(0, email))


def skeleton_digest(email: str) -> bytes:
    """Return the SHA-256 of `skeleton(email)`: what the user stores keep, unique.

    A digest, so the key has one length: a skeleton can be several times longer than
    its address, past what an index entry may hold.
    """
    return hashlib.sha256(skeleton(email).encode("utf-8", "surrogatepass")).digest()
