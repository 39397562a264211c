"""The route class of authward's JSON API: self-contained in whatever app includes it.

An app that includes `Authward.router` has none of authward's exception handlers, so
each route answers authward's errors itself, through the one table of `web.errors`
(the same status, body and headers as in `authward serve`), and never echoes a
rejected body back in a 422. Each route also tells `authward.events` where the request
came from, so the events it emits carry the client's address and user agent.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response

from authward.errors import AuthwardError
from authward.events import request_origin
from authward.sessions.models import Device
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
