"""The route class of authward's JSON API: self-contained in whatever app includes it.

An app that includes `Authward.router` has none of authward's exception handlers, so
each route answers authward's errors itself, through the one table of `web.errors`
(the same status, body and headers as in `authward serve`), and never echoes a
rejected body back in a 422. Each route also tells `authward.events` where the request
came from, so the events it emits carry the client's address and user agent.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Coroutine
from typing import Any, Final, NoReturn

from fastapi import APIRouter
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.convertors import Convertor, register_url_convertor
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, compile_path
from starlette.types import Scope

from authward.errors import AuthwardError, NotFound
from authward.events import request_origin
from authward.ids import Device
from authward.web.addresses import client_address
from authward.web.auth import runtime_of
from authward.web.errors import answer_error, answer_validation_error


def device_of(request: Request) -> Device:
    """Where the request comes from: its user agent, and the client address it vouches for."""
    trusted = runtime_of(request).settings.trusted_proxies
    return Device.of(request.headers.get("user-agent"), client_address(request.scope, trusted))


class AuthwardRoute(APIRoute):
    """An API route that maps authward's errors itself and binds the request's origin."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route_handler(request: Request) -> Response:
            with request_origin(lambda: device_of(request)):
                try:
                    return await handler(request)
                except AuthwardError as exc:
                    return answer_error(request, exc)
                except RequestValidationError as exc:
                    return answer_validation_error(exc)

        return route_handler


EVERY_METHOD: Final = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


class _Twins(Convertor[str]):
    """The slash twins of a set of paths, as one regular expression (see `slash_twins`).

    Starlette reads a convertor's pattern from its class: each set of paths gets a
    subclass of its own (`_twins_of`).
    """

    regex = "(?!)"  # matches nothing

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


def _twins_of(regex: str) -> _Twins:
    convertor = type("_TwinsOf", (_Twins,), {"regex": regex})
    return convertor()  # type: ignore[no-any-return]


def slash_twins(*routers: APIRouter) -> APIRouter:
    """One route answering 404 at each path of `routers` with trailing slashes added (or cut).

    An app with ``redirect_slashes`` on (FastAPI's and Starlette's default) answers such
    a path with a 307 to the path it resembles, at an absolute URL built from the
    request's ``Host`` header: a redirect to whatever host the client names, which keeps
    a POST's body. authward's own apps turn it off; an app that includes
    `Authward.router` is someone else's, so this route claims the twins of authward's
    paths before its router would redirect them. Only routers actually included may be
    given: a twin whose original is absent would itself be a redirect's target.

    One route with one regular expression, not a route per twin: every request to the
    app's own routes declared after authward's walks past it, and a route per twin cost
    such a request about 15 µs (benchmarks/hotpath.py).
    """
    paths = {r.path for router in routers for r in router.routes if isinstance(r, APIRoute)}
    alternatives = []
    for path in sorted(paths):
        bare = path.rstrip("/")
        if not bare:
            continue
        pattern = _template_pattern(bare)
        if bare != path and bare not in paths:  # a path of ours ending in "/": its twin lacks it
            alternatives.append(pattern)
        alternatives.append(pattern + "/+")
    regex = "(?:" + "|".join(alternatives) + ")"
    # Convertors are registered by name, process-wide: the name says which paths it holds.
    name = "authward_twins_" + hashlib.sha256(regex.encode()).hexdigest()[:16]
    register_url_convertor(name, _twins_of(regex))
    twins = APIRouter(route_class=AuthwardRoute, include_in_schema=False)
    twins.add_api_route(
        _TWINS_PATH + name + "}", _no_such_path, methods=EVERY_METHOD, response_model=None
    )
    return twins


_TWINS_PATH: Final = "/{twin:"


def _template_pattern(path: str) -> str:
    """`path` (a route template such as ``/auth/sessions/{id}``) as an unanchored pattern
    for what follows its first "/", its parameters as non-capturing groups."""
    compiled, _, _ = compile_path(path)
    body = compiled.pattern.removeprefix("^/").removesuffix("$")
    return re.sub(r"\(\?P<[^>]+>", "(?:", body)


async def _no_such_path() -> NoReturn:
    raise NotFound


class GatedRouter(APIRouter):
    """An APIRouter that turns away, at once, a path outside the segments its routes lie under.

    FastAPI matches a request against the routes in the order they were declared, and
    goes into an included router route by route (each match juggling keys of the
    request's scope). An app's own route declared after ``app.include_router(auth.router)``
    thus paid for a walk past every authward route first: half of what a bare route cost
    in all (benchmarks/hotpath.py). authward's paths all start with a few segments
    (``/auth/``, ``/.well-known/``): any other path is no match, decided by one
    ``startswith``. A path that starts so is matched as before.
    """

    gate: tuple[str, ...] = ("/",)  # until `close_gate`: every path goes through

    def close_gate(self) -> None:
        """Let in only the paths under the first segment of one of this router's routes."""
        firsts = set()
        for path in _paths(self):
            if path.startswith(_TWINS_PATH):
                continue  # the twins of the other paths: under the same segments
            first = "/" + path.split("/", 2)[1]
            if "{" in first:
                return  # a route matching any first segment: no gate can hold
            firsts.add(first if path.count("/") > 1 else path)
        self.gate = tuple(sorted(firsts))

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] == "http" and not _route_path(scope).startswith(self.gate):
            return Match.NONE, {}
        return super().matches(scope)


def _route_path(scope: Scope) -> str:
    """The path routes match: under a mount (``root_path``), what follows it."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


def _paths(router: APIRouter) -> list[str]:
    """The path templates of every route reachable through `router`, included ones too."""
    found: list[str] = []
    for route in router.routes:
        original = getattr(route, "original_router", None)  # FastAPI's included router
        if isinstance(original, APIRouter):
            prefix = getattr(getattr(route, "include_context", None), "prefix", "")
            found += [prefix + path for path in _paths(original)]
        elif isinstance(path := getattr(route, "path", None), str):
            found.append(path)
    return found
