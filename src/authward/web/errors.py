"""authward's errors as FastAPI answers; the table itself is `authward.answers`.

Every JSON error answer is ``{"detail": ..., "code": ...}``: `detail` for a person,
`code` a stable snake_case string for a program (`public_code`; for an HTTP error
authward did not raise, such as a 404 for an unknown path or a 405, the status' name:
``not_found``, ``method_not_allowed``). Codes never change meaning; a finer one may
appear under an existing status.
"""

from __future__ import annotations

import logging
from http import HTTPStatus

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from authward.answers import error_parts, public_code
from authward.errors import AuthwardError, InvalidInput, StoreUnavailable
from authward.web.auth import bearer_expected

log = logging.getLogger("authward.web")

__all__ = [
    "answer_error",
    "answer_http_error",
    "answer_validation_error",
    "error_parts",
    "error_response",
    "http_exception",
    "install_error_handlers",
    "public_code",
]


def error_response(exc: AuthwardError, *, bearer: bool = False) -> JSONResponse:
    """The JSON answer for `exc`, with the headers its status calls for."""
    status, detail, headers = error_parts(exc, bearer=bearer)
    return JSONResponse(error_body(detail, public_code(exc)), status_code=status, headers=headers)


def error_body(detail: object, code: str) -> dict[str, object]:
    """The body of every JSON error answer."""
    return {"detail": detail, "code": code}


class CodedHTTPException(HTTPException):
    """An HTTPException that keeps the `code` of the authward error it answers."""

    def __init__(
        self, status: int, detail: str, *, code: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(status, detail, headers=headers)
        self.code = code


def http_exception(exc: AuthwardError, *, bearer: bool = False) -> HTTPException:
    """The same answer as an HTTPException: what dependencies raise in any FastAPI app.

    authward's handlers (`install_error_handlers`) answer it with its `code`; FastAPI's
    own handler, in an app without them, with `detail` alone.
    """
    status, detail, headers = error_parts(exc, bearer=bearer)
    return CodedHTTPException(status, detail, code=public_code(exc), headers=headers or None)


def status_code_name(status: int) -> str:
    """The code of an HTTP error authward did not raise: its status' name, snake_case."""
    try:
        return HTTPStatus(status).phrase.lower().replace(" ", "_").replace("-", "_")
    except ValueError:
        return AuthwardError.code


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
    return JSONResponse(error_body(errors, InvalidInput.code), status_code=422)


async def _authward_error(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, AuthwardError):  # registered for this class only
        raise exc
    return answer_error(request, exc)


async def _validation_error(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, RequestValidationError):
        raise exc
    return answer_validation_error(exc)


def answer_http_error(exc: StarletteHTTPException) -> JSONResponse:
    """The JSON answer to an HTTP error: one authward raised, or the router's 404 or 405."""
    code = exc.code if isinstance(exc, CodedHTTPException) else status_code_name(exc.status_code)
    return JSONResponse(
        error_body(str(exc.detail), code), status_code=exc.status_code, headers=exc.headers
    )


async def _http_error(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, StarletteHTTPException):
        raise exc
    return answer_http_error(exc)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AuthwardError, _authward_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
