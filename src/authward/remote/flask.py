"""Flask: protect a view with authward's access tokens, verified through JWKS.

::

    verifier = JwksVerifier("https://auth.example.com/.well-known/jwks.json")

    @app.get("/reports")
    @token_required(verifier)
    def reports():
        return {"user": g.authward_user.id}

Flask is imported when a protected view runs, never by ``import authward``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from authward.answers import error_parts, public_code
from authward.errors import AuthwardError
from authward.remote.verifier import JwksVerifier

__all__ = ["token_required"]

P = ParamSpec("P")
R = TypeVar("R")


def token_required(verifier: JwksVerifier) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorate a view: a valid bearer token puts an `AuthUser` on ``g.authward_user``.

    Otherwise the view does not run: 401 with ``WWW-Authenticate: Bearer`` (503 while
    the keys cannot be had), with authward's JSON body ``{"detail": ...}``.
    """

    def decorate(view: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(view)
        def protected(*args: P.args, **kwargs: P.kwargs) -> R:
            from flask import abort, g, jsonify, request

            try:
                g.authward_user = verifier.user(request.headers.get("Authorization"))
            except AuthwardError as exc:
                status, detail, headers = error_parts(exc, bearer=True)
                response = jsonify(detail=detail, code=public_code(exc))
                response.status_code = status
                response.headers.update(headers)
                abort(response)
            return view(*args, **kwargs)

        return protected

    return decorate
