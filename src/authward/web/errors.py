"""authward's errors as FastAPI answers; the table itself is `authward.answers`."""

from __future__ import annotations

import logging
from typing import Final

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Scope

from authward.answers import error_parts, status_of
from authward.errors import AuthwardError, StoreUnavailable

log = logging.getLogger("authward.web")

BEARER_EXPECTED: Final = "bearer_expected"  # request.state's flag, see `expect_bearer`

__all__ = [
    "BEARER_EXPECTED",
    "answer_error",
    "answer_validation_error",
    "bearer_expected",
    "error_parts",
    "error_response",
    "expect_bearer",
    "http_exception",
    "install_error_handlers",
    "status_of",
]


def error_response(exc: AuthwardError, *, bearer: bool = False) -> JSONResponse:
    """The JSON answer for `exc`, with the headers its status calls for."""
    status, detail, headers = error_parts(exc, bearer=bearer)
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


def http_exception(exc: AuthwardError, *, bearer: bool = False) -> HTTPException:
    """The same answer as an HTTPException: what dependencies raise in any FastAPI app."""
    status, detail, headers = error_parts(exc, bearer=bearer)
    return HTTPException(status, detail, headers=headers or None)


def expect_bearer(scope: Scope) -> None:
    """Mark the request as one whose 401 names the Bearer scheme (see `bearer_expected`)."""
    scope.setdefault("state", {})[BEARER_EXPECTED] = True


def bearer_expected(request: Request) -> bool:
    """A 401 carries ``WWW-Authenticate: Bearer`` where a bearer token was used or expected."""
    return bool(request.scope.get("state", {}).get(BEARER_EXPECTED)) or request.headers.get(
        "authorization", ""
    ).lower().startswith("bearer")


def answer_error(request: Request, exc: AuthwardError) -> JSONResponse:
    """The answer to `exc` raised while serving `request` (logged when a store is down)."""
    if isinstance(exc, StoreUnavailable):
        log.error("store unavailable: %s", exc.store)
    return error_response(exc, bearer=bearer_expected(request))


def answer_validation_error(exc: RequestValidationError) -> JSONResponse:
    """FastAPI's field list, without echoing input back (it may hold a password)."""
    errors = [
        {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
        for e in exc.errors()
    ]
    return JSONResponse({"detail": errors}, status_code=422)


async def _authward_error(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, AuthwardError):  # registered for this class only
        raise exc
    return answer_error(request, exc)


async def _validation_error(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, RequestValidationError):
        raise exc
    return answer_validation_error(exc)


async def _http_error(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, StarletteHTTPException):
        raise exc
    return JSONResponse(
        {"detail": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AuthwardError, _authward_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
