"""The route class of authward's JSON API: self-contained in whatever app includes it.

An app that includes `Authward.router` has none of authward's exception handlers, so
each route answers authward's errors itself, through the one table of `web.errors`
(the same status, body and headers as in `authward serve`), and never echoes a
rejected body back in a 422. Each route also tells `authward.events` where the request
came from, so the events it emits carry the client's address and user agent.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, Final, NoReturn

from fastapi import APIRouter
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.convertors import Convertor, register_url_convertor
from starlette.requests import Request
from starlette.responses import Response

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


class _TrailingSlashes(Convertor[str]):
    """One or more slashes: the tail that ``/auth/me/`` and ``/auth/me//`` add to a path."""

    regex = "/+"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("authward_trailing_slashes", _TrailingSlashes())


def slash_twins(*routers: APIRouter) -> APIRouter:
    """Routes answering 404 at each path of `routers` with trailing slashes added (or cut).

    An app with ``redirect_slashes`` on (FastAPI's and Starlette's default) answers such
    a path with a 307 to the path it resembles, at an absolute URL built from the
    request's ``Host`` header: a redirect to whatever host the client names, which keeps
    a POST's body. authward's own apps turn it off; an app that includes
    `Authward.router` is someone else's, so these routes claim the twins of authward's
    paths before its router would redirect them. Only routers actually included may be
    given: a twin whose original is absent would itself be a redirect's target.
    """
    twins = APIRouter(route_class=AuthwardRoute, include_in_schema=False)
    paths = {r.path for router in routers for r in router.routes if isinstance(r, APIRoute)}
    for path in sorted(paths):
        bare = path.rstrip("/")
        if bare and bare not in paths:  # a path of ours ending in "/": its twin lacks it
            twins.add_api_route(bare, _no_such_path, methods=EVERY_METHOD, response_model=None)
        twin = bare + "{trailing:authward_trailing_slashes}"
        twins.add_api_route(twin, _no_such_path, methods=EVERY_METHOD, response_model=None)
    return twins


async def _no_such_path() -> NoReturn:
    raise NotFound
