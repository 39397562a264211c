"""The user an app sees: who made the request and how, without a database lookup."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from starlette.authentication import BaseUser

from authward.accounts.models import UserId

Via = Literal["session", "jwt"]


@dataclass(frozen=True, slots=True)
class AuthUser(BaseUser):
    """An authenticated caller, as authward's dependencies and middleware hand it over.

    `id` and `via` come from the credential itself (the session record or the token's
    claims), so no user lookup is made for them. `handle` is the public name of that
    credential: the session's handle, or the token family's id (the ``sid`` claim).
    `email` is None unless it was loaded (`Authward.current_account`, or the middleware
    with ``load_email=True``).

    It is a Starlette ``BaseUser``: ``request.user.is_authenticated``, ``display_name``
    and ``identity`` work as with Starlette's own AuthenticationMiddleware.
    """

    id: UserId
    via: Via
    handle: str
    email: str | None = None

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def display_name(self) -> str:
        return self.email or self.id

    @property
    def identity(self) -> str:
        return self.id
