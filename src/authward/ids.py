"""The small types every concept shares: who (`UserId`), from where (`Device`), how (`Via`).

They live here, below the concepts, so that tokens need not import sessions to name a
device, nor events import accounts to name a user: each concept stands on this module
instead of on another concept.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

__all__ = ["Device", "UserId", "Via"]

UserId = str
Via = Literal["session", "jwt"]  # the strategy that authenticated a caller

# Control characters (C0, DEL, C1) have no place in a user agent, and PostgreSQL refuses
# NUL in text outright: each becomes U+FFFD, so the rest of the string is still kept.
_CONTROLS: Final = {c: "\ufffd" for c in (*range(0x20), *range(0x7F, 0xA0))}


@dataclass(frozen=True, slots=True)
class Device:
    """Where a login came from, as the client described itself (truncated, untrusted)."""

    user_agent: str = ""
    ip: str = ""

    @classmethod
    def of(cls, user_agent: str | None, ip: str | None) -> Device:
        """The device a request names; what the client wrote is made safe to store."""
        agent = (user_agent or "")[:512].translate(_CONTROLS)
        return cls(user_agent=agent, ip=(ip or "")[:64].translate(_CONTROLS))
