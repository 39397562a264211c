"""authward's credentials as OpenAPI security schemes, so `/docs` can authorize.

FastAPI lists a security scheme for every dependency that is a `SecurityBase`. authward's
own checks (`Guarded`: `Guard`, and `current_user`'s kin) are such objects themselves,
so the route or the app's route that depends on them shows the lock, and Swagger UI's
Authorize button sends the bearer token: at no cost per request beyond the check itself.

A check that takes a bearer token *or* the session cookie is two alternatives, and
OpenAPI lists each alternative as a scheme of its own, where FastAPI gives a dependency
one. A second dependency naming the cookie would cost every request a whole solve of
FastAPI's (about what a no-op ``Depends`` costs: benchmarks/README.md), for a document.
So the cookie is added to the document instead: while `document_credentials`' wrapper
of ``app.openapi`` builds it, such a check names itself `EITHER`, and the wrapper writes
that as the two schemes. ``auth.lifespan`` installs the wrapper on the app it runs, and
`authward serve` on its own; ``auth.document(app)`` installs it on an app that is never
started (a document built offline). Without it, such a route lists the bearer alone.

The session cookie's scheme is documentation: a browser sends the cookie by itself
(Swagger UI on the same site included), and no page script can set an HttpOnly cookie.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, MutableMapping
from contextvars import ContextVar
from dataclasses import dataclass
from inspect import Parameter, Signature
from typing import Any, Final, Generic, TypeVar

from fastapi import FastAPI
from fastapi.encoders import jsonable_encoder
from fastapi.openapi.models import APIKey, APIKeyIn, HTTPBearer
from fastapi.openapi.models import SecurityBase as SchemeModel
from fastapi.security.base import SecurityBase
from starlette.requests import Request
from starlette.routing import Mount

from authward.auth.transports import SECURE_SESSION_COOKIE

__all__ = ["BEARER", "EITHER", "SESSION_COOKIE", "Guard", "Guarded", "document_credentials"]

T = TypeVar("T")

# The name a bearer-or-cookie check gives itself while the wrapper builds the document;
# never in a finished one.
EITHER: Final = "authward:bearerAuth|sessionCookie"
_documenting: ContextVar[bool] = ContextVar("authward_documenting", default=False)


@dataclass(frozen=True, slots=True)
class Scheme:
    """A security scheme of the OpenAPI document: what it is, and its name there."""

    model: SchemeModel
    scheme_name: str


BEARER: Final = Scheme(
    HTTPBearer(
        bearerFormat="JWT",
        description="An access token from POST /auth/token (Authorization: Bearer …).",
    ),
    "bearerAuth",
)
SESSION_COOKIE: Final = Scheme(
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
    a signature FastAPI reads (the request alone: no dependency of its own to solve).

    `schemes` are the ways it takes, of ``{"jwt", "session"}``: the bearer scheme when
    it takes tokens, else the cookie's; with both, `EITHER` while the document is built.
    A subclass defines ``async def __call__(self, request)``.
    """

    def __init__(self, schemes: Collection[str]) -> None:
        primary = BEARER if "jwt" in schemes else SESSION_COOKIE
        self.model = primary.model
        self._scheme_name = primary.scheme_name
        self._either = primary is BEARER and "session" in schemes
        # What FastAPI reads to learn the dependency's parameters.
        self.__signature__ = Signature(
            [Parameter("request", Parameter.POSITIONAL_OR_KEYWORD, annotation=Request)]
        )

    @property  # read-only here: FastAPI only reads it
    def scheme_name(self) -> str:  # type: ignore[override]
        """The scheme's name in the document; read only when one is built."""
        if self._either and _documenting.get():
            return EITHER
        return self._scheme_name


class Guard(Guarded, Generic[T]):
    """A check of the caller (`check`) that is its own OpenAPI security scheme."""

    def __init__(self, check: Callable[[Request], Awaitable[T]], schemes: Collection[str]) -> None:
        super().__init__(schemes)
        self._check = check

    async def __call__(self, request: Request) -> T:
        return await self._check(request)


def document_credentials(app: object) -> None:
    """Have ``app.openapi()`` list the session cookie beside the bearer token where a
    check takes either, for `app` if it is a FastAPI app and for the FastAPI apps
    mounted in it (a Starlette app's too). Idempotent.

    Wraps ``app.openapi`` (FastAPI's way to change the document), forgetting a document
    built before, which would list the bearer alone.
    """
    if isinstance(app, FastAPI) and not getattr(app.openapi, "_authward_documents", False):
        build = app.openapi

        def openapi() -> dict[str, Any]:
            token = _documenting.set(True)
            try:
                document = build()
            finally:
                _documenting.reset(token)
            _write_either(document)
            return document

        openapi._authward_documents = True  # type: ignore[attr-defined]
        app.openapi = openapi  # type: ignore[method-assign]
        app.openapi_schema = None
    for route in getattr(app, "routes", ()):
        if isinstance(route, Mount):
            document_credentials(route.app)


def _write_either(document: MutableMapping[str, Any]) -> None:
    """`EITHER` written out, in place, as the bearer and the cookie: two alternatives."""
    components = document.get("components", {})
    schemes = components.get("securitySchemes", {})
    if EITHER not in schemes:
        return  # no such check, or written out already (FastAPI keeps the document)
    written: dict[str, Any] = {}
    for name, definition in schemes.items():  # in place of EITHER, keeping the order
        for one in (BEARER, SESSION_COOKIE) if name == EITHER else ():
            written.setdefault(
                one.scheme_name, jsonable_encoder(one.model, by_alias=True, exclude_none=True)
            )
        if name != EITHER:
            written[name] = definition
    components["securitySchemes"] = written
    for path_item in document.get("paths", {}).values():
        for operation in path_item.values():
            requirements = operation.get("security") if isinstance(operation, dict) else None
            if requirements:
                operation["security"] = _written_out(requirements)


def _written_out(requirements: list[dict[str, list[str]]]) -> list[dict[str, list[str]]]:
    written: list[dict[str, list[str]]] = []
    for requirement in requirements:
        scopes = requirement.get(EITHER)
        alternatives = (
            [requirement]
            if scopes is None
            else [{BEARER.scheme_name: scopes}, {SESSION_COOKIE.scheme_name: scopes}]
        )
        written.extend(one for one in alternatives if one not in written)
    return written
