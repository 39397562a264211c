"""The user an app sees: who made the request and how, without a database lookup.

It depends on no web framework, so `authward.remote` hands the same `AuthUser` to a
Flask or Django view without loading Starlette.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

from authward.ids import UserId, Via

MEMO_SIZE: Final = 10_000


@dataclass(frozen=True, slots=True)
class AuthUser:
    """An authenticated caller, as authward's dependencies and middleware hand it over.

    `id` and `via` come from the credential itself (the session record or the token's
    claims), so no user lookup is made for them. `handle` is the public name of that
    credential: the session's handle, or the token family's id (the ``sid`` claim).
    `email` is None unless it was loaded (the middleware with ``load_email=True``; a
    route that wants the account asks `Authward.current_account` for it). `auth_time`
    and `amr` say how the credential's login authenticated (the session's record, the
    token's claims), so step-up reads nothing again; None and () for a caller made
    without them (an app's test override), which step-up treats as a login of long ago.

    It has the interface of Starlette's ``BaseUser`` without subclassing it (that would
    load Starlette): ``request.user.is_authenticated``, ``display_name`` and ``identity``
    work as with Starlette's own AuthenticationMiddleware.
    """

    id: UserId
    via: Via
    handle: str
    email: str | None = None
    auth_time: datetime | None = None
    amr: tuple[str, ...] = ()

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def display_name(self) -> str:
        return self.email or self.id

    @property
    def identity(self) -> str:
        return self.id


class Callers:
    """The `AuthUser` of each credential handle seen lately, so a repeat caller allocates none.

    Only an allocation cache: it is asked after the credential was checked, and hands back
    a kept object only when it names the same user, strategy and handle, and the same
    login (`auth_time`, `amr`): after a step-up the same handle has a newer auth time,
    and a kept caller with the old one would ask for step-up again, or, after a session
    ended and its handle came back, vouch for a login that is not this one (building
    one costs about 0.8 µs, as much as a cached token's whole check). At `size` entries
    it starts afresh.
    """

    def __init__(self, size: int = MEMO_SIZE) -> None:
        self._size = size
        self._by_handle: dict[str, AuthUser] = {}

    def __len__(self) -> int:
        return len(self._by_handle)

    def of(
        self,
        user_id: UserId,
        via: Via,
        handle: str,
        auth_time: datetime | None = None,
        amr: tuple[str, ...] = (),
    ) -> AuthUser:
        user = self._by_handle.get(handle)
        if (
            user is None
            or user.auth_time != auth_time
            or user.id != user_id
            or user.via != via
            or user.amr != amr
        ):
            if len(self._by_handle) >= self._size:
                self._by_handle.clear()
            user = AuthUser(user_id, via, handle, None, auth_time, amr)
            self._by_handle[handle] = user
        return user
