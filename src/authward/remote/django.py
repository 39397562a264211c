"""Django: authward's access tokens, verified through JWKS, as a decorator or middleware.

::

    verifier = JwksVerifier("https://auth.example.com/.well-known/jwks.json")

    @token_required(verifier)
    def reports(request):
        return JsonResponse({"user": request.authward_user.id})

or, for every view, ``"authward.remote.django.TokenMiddleware"`` in ``MIDDLEWARE`` with
``AUTHWARD_VERIFIER = JwksVerifier(...)`` in the settings: it sets
``request.authward_user`` (None without an ``Authorization`` header) and answers 401 for
a bearer token that does not hold. Django is imported only when these run.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar, cast

from authward.answers import error_parts, public_code
from authward.errors import AuthwardError
from authward.remote.verifier import JwksVerifier

__all__ = ["TokenMiddleware", "token_required"]

View = TypeVar("View", bound=Callable[..., Any])


def token_required(verifier: JwksVerifier) -> Callable[[View], View]:
    """Decorate a view: a valid bearer token puts an `AuthUser` on ``request.authward_user``.

    Otherwise 401 with ``WWW-Authenticate: Bearer`` (503 while no keys can be had).
    """

    def decorate(view: View) -> View:
        @functools.wraps(view)
        def protected(request: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                request.authward_user = verifier.user(request.headers.get("Authorization"))
            except AuthwardError as exc:
                return _refusal(exc)
            return view(request, *args, **kwargs)

        return cast(View, protected)

    return decorate


class TokenMiddleware:
    """Set ``request.authward_user`` from the bearer token, for every view.

    The verifier is the ``AUTHWARD_VERIFIER`` setting. Without an ``Authorization``
    header the user is None and the view decides; a header that does not hold is a 401.
    """

    def __init__(self, get_response: Callable[[Any], Any]) -> None:
        from django.conf import settings

        self.get_response = get_response
        self.verifier: JwksVerifier = settings.AUTHWARD_VERIFIER

    def __call__(self, request: Any) -> Any:
        header = request.headers.get("Authorization")
        request.authward_user = None
        if header is not None:
            try:
                request.authward_user = self.verifier.user(header)
            except AuthwardError as exc:
                return _refusal(exc)
        return self.get_response(request)


def _refusal(exc: AuthwardError) -> Any:
    from django.http import JsonResponse

    status, detail, headers = error_parts(exc, bearer=True)
    return JsonResponse(
        {"detail": detail, "code": public_code(exc)}, status=status, headers=headers
    )
