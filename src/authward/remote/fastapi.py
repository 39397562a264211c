"""FastAPI: `JwksVerifier.current_user`, the dependency, made here on first use.

This is the one module of `authward.remote` that loads Starlette, and only an app that
asks a verifier for its dependency imports it: a Flask or Django service never does.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from starlette.exceptions import HTTPException
from starlette.requests import Request

from authward.answers import error_parts
from authward.callers import AuthUser
from authward.errors import AuthwardError

if TYPE_CHECKING:
    from authward.remote.verifier import JwksVerifier

__all__ = ["current_user"]


def current_user(verifier: JwksVerifier) -> Callable[[Request], Awaitable[AuthUser]]:
    """The dependency of `verifier`: the bearer token's user, else its 401 or 503."""

    async def current_user(request: Request) -> AuthUser:
        try:
            return await verifier.user_async(request.headers.get("authorization"))
        except AuthwardError as exc:
            # FastAPI answers Starlette's HTTPException as its own: {"detail": ...}, headers.
            status, detail, headers = error_parts(exc, bearer=True)
            raise HTTPException(status, detail, headers=headers or None) from None

    return current_user
