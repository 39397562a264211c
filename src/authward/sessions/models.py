"""The session record, as the store keeps it: no id, only its digest."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

from authward.accounts.models import UserId

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


@dataclass(frozen=True, slots=True)
class Session:
    """A live session.

    `id_digest` is SHA-256 of the session id the browser holds; `handle` is a separate
    public name for it (shown in device lists, used to end it), so nothing a client sees
    can be turned back into the cookie.
    """

    id_digest: bytes
    handle: str
    user_id: UserId
    created_at: datetime
    last_seen_at: datetime
    idle_expires_at: datetime
    absolute_expires_at: datetime
    device: Device

    def expired(self, now: datetime) -> bool:
        return now >= self.idle_expires_at or now >= self.absolute_expires_at
