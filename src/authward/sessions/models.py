"""The session record, as the store keeps it: no id, only its digest."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from authward.assurance import Assurance
from authward.ids import Device, UserId


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
    # How the login authenticated; None: a session older than the column, its created_at.
    auth_time: datetime | None = None
    amr: tuple[str, ...] = ("pwd",)

    @property
    def assurance(self) -> Assurance:
        return Assurance(self.auth_time or self.created_at, self.amr)

    def expired(self, now: datetime) -> bool:
        return now >= self.idle_expires_at or now >= self.absolute_expires_at
