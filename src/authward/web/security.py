"""authward's credentials as OpenAPI security schemes, so `/docs` can authorize.

FastAPI lists a security scheme for every dependency that is a `SecurityBase`. authward's
own checks (`Guarded`: `Guard`, and `current_user`'s kin) are such objects themselves,
so the route or the app's route that depends on them shows the lock, and Swagger UI's
Authorize button sends the bearer token: at no cost per request beyond the check itself.
A check that takes a bearer token *or* the session cookie names the cookie's scheme
through one more dependency, which does nothing (`SchemeDoc`): OpenAPI lists
alternatives as one scheme each. That one is not free: FastAPI solves it like any
dependency, about as much CPU as a whole no-op ``Depends`` (benchmarks/README.md).

The session cookie's scheme is documentation: a browser sends the cookie by itself
(Swagger UI on the same site included), and no page script can set an HttpOnly cookie.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from inspect import Parameter, Signature
from typing import Annotated, Final, Generic, TypeVar

from fastapi import Depends
from fastapi.openapi.models import APIKey, APIKeyIn, HTTPBearer
from fastapi.openapi.models import SecurityBase as SchemeModel
from fastapi.security.base import SecurityBase
from starlette.requests import Request

from authward.auth.transports import SECURE_SESSION_COOKIE

__all__ = ["BEARER", "SESSION_COOKIE", "Guard", "Guarded", "SchemeDoc"]

T = TypeVar("T")


class SchemeDoc(SecurityBase):
    """A security scheme for the OpenAPI document, as a dependency that checks nothing."""

    def __init__(self, model: SchemeModel, scheme_name: str) -> None:
        self.model = model
        self.scheme_name = scheme_name

    async def __call__(self) -> None:
        return None


BEARER: Final = SchemeDoc(
    HTTPBearer(
        bearerFormat="JWT",
        description="An access token from POST /auth/token (Authorization: Bearer …).",
    ),
    "bearerAuth",
)
SESSION_COOKIE: Final = SchemeDoc(
    APIKey(
        **{"in": APIKeyIn.cookie},
        name=SECURE_SESSION_COOKIE,
        description="The session cookie POST /auth/session/login sets (authward_session "
        "with AUTHWARD_INSECURE_COOKIES); the browser sends it. An unsafe method needs "
        "the session's X-CSRF-Token too.",
    ),
    "sessionCookie",
)


class Guarded(SecurityBase):
    """What every check of the caller is to FastAPI: its own OpenAPI security scheme, and
    a signature FastAPI reads (the request; with the cookie's scheme, one more dependency).

    `schemes` are the ways it takes, of ``{"jwt", "session"}``: the bearer scheme is its
    own; with the session too, the cookie's scheme comes as a dependency of its own.
    A subclass defines ``async def __call__(self, request, session_cookie=None)``.
    """

    def __init__(self, schemes: Collection[str]) -> None:
        primary = BEARER if "jwt" in schemes else SESSION_COOKIE
        self.model = primary.model
        self.scheme_name = primary.scheme_name
        parameters = [Parameter("request", Parameter.POSITIONAL_OR_KEYWORD, annotation=Request)]
        if primary is BEARER and "session" in schemes:
            # scope="function" (it is no generator, so it changes nothing else) spares
            # FastAPI classifying the callable again on every request to find the scope.
            cookie = Annotated[None, Depends(SESSION_COOKIE, scope="function")]
            parameters.append(
                Parameter("session_cookie", Parameter.KEYWORD_ONLY, default=None, annotation=cookie)
            )
        # What FastAPI reads to learn the dependency's own dependencies.
        self.__signature__ = Signature(parameters)


class Guard(Guarded, Generic[T]):
    """A check of the caller (`check`) that is its own OpenAPI security scheme."""

    def __init__(self, check: Callable[[Request], Awaitable[T]], schemes: Collection[str]) -> None:
        super().__init__(schemes)
        self._check = check

    async def __call__(self, request: Request, session_cookie: None = None) -> T:
        return await self._check(request)
