"""Who made a request, and how they proved it."""

from __future__ import annotations

from dataclasses import dataclass

from authward.ids import UserId, Via


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller.

    `handle` is the public name of what authenticated it (the session's handle or the
    token family's id), so a device list can mark the current entry.
    """

    user_id: UserId
    via: Via
    handle: str
    session_id: str | None = None  # the cookie's own value, kept only for this request

    def __repr__(self) -> str:
        return f"Principal(user_id={self.user_id!r}, via={self.via!r}, handle={self.handle!r})"
