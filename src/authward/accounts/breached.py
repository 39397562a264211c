"""Pwned Passwords by k-anonymity: is a new password in the breach corpus? (ASVS 6.2.12)

Only the first 5 hex digits of the password's SHA-1 leave the process (the range API
answers every suffix under that prefix), with ``Add-Padding: true`` so the size of the
answer does not tell the prefix either; padding lines carry a count of 0 and are no
match. The password, its hash and the prefix are never logged.

The suffixes are compared as a set, not in constant time: the range is public (anyone
may ask for it) and the comparison runs in this process, where its timing is lost in
the HTTP round trip; the one thing it could tell, whether the password is in the
corpus, is what the person is told anyway.

When the API does not answer within the timeout, or answers something that is not a
range, the check fails open (the password passes; the common-password list still
applies) or closed (StoreUnavailable: a 503) as configured.
"""

from __future__ import annotations

import hashlib
import logging
import re
from typing import Final

import anyio
import httpx

from authward.errors import StoreUnavailable

__all__ = ["PWNED_PASSWORDS_RANGE_URL", "BreachedPasswords"]

log = logging.getLogger("authward.accounts")

PWNED_PASSWORDS_RANGE_URL: Final = "https://api.pwnedpasswords.com/range/"
PREFIX_LENGTH: Final = 5
# A padded range holds 800 to 1,000 lines of 40 bytes or so; a hundred times that is no range.
MAX_RANGE_BYTES: Final = 4 * 1024 * 1024
_LINE: Final = re.compile(r"([0-9A-Fa-f]{35}):([0-9]+)")


class BreachedPasswords:
    """Ask a Pwned Passwords range API whether a password has been breached."""

    def __init__(
        self,
        url: str = PWNED_PASSWORDS_RANGE_URL,
        *,
        timeout: float,
        fail_closed: bool,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.url = url
        self._timeout = timeout
        self._fail_closed = fail_closed
        self._client = client
        self._owns_client = client is None

    async def contains(self, password: str) -> bool:
        """Whether the corpus holds `password`; StoreUnavailable if unknown and failing closed."""
        digest = hashlib.sha1(password.encode(), usedforsecurity=False).hexdigest().upper()
        try:
            with anyio.fail_after(self._timeout):  # the whole exchange, not each read
                suffixes = await self._range(digest[:PREFIX_LENGTH])
        except (httpx.HTTPError, TimeoutError, ValueError) as exc:
            log.warning(
                "breached-password check unavailable (%s): %s",
                "refusing" if self._fail_closed else "allowing",
                type(exc).__name__,
            )
            if self._fail_closed:
                raise StoreUnavailable("breached passwords") from None
            return False
        return digest[PREFIX_LENGTH:] in suffixes

    async def aclose(self) -> None:
        """Close the HTTP client this checker made (not one it was given)."""
        if self._client is not None and self._owns_client:
            await self._client.aclose()
            self._client = None

    async def _range(self, prefix: str) -> frozenset[str]:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self._timeout, follow_redirects=False)
        headers = {"Add-Padding": "true", "Accept": "text/plain"}
        async with self._client.stream("GET", self.url + prefix, headers=headers) as response:
            if response.status_code != 200:
                raise ValueError(f"HTTP {response.status_code}")
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > MAX_RANGE_BYTES:
                    raise ValueError("range too large")
        return _suffixes(body.decode("ascii"))  # UnicodeDecodeError is a ValueError


def _suffixes(text: str) -> frozenset[str]:
    """The suffixes of a range with a count above 0; ValueError unless every line is one."""
    found: set[str] = set()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        raise ValueError("empty range")
    for line in lines:
        match = _LINE.fullmatch(line)
        if match is None:
            raise ValueError("not a range line")
        if int(match[2]) > 0:  # padding: made-up suffixes with a count of 0
            found.add(match[1].upper())
    return frozenset(found)
