"""What every page shares: its route class, its rendering, and who is signed in.

Who is signed in is the Authenticator's answer, as for the API: an `AuthUser` by the
session strategy alone. Whatever a page shows beyond it (the account, the session's
record, its CSRF token) the page derives where it needs it.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi.routing import APIRoute
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from authward.auth import SAFE_METHODS, SESSION_ONLY
from authward.auth.transports import credential_headers
from authward.callers import AuthUser
from authward.errors import CsrfRejected, NotAuthenticated, StoreUnavailable
from authward.events import request_origin
from authward.web.auth import presented_csrf_token, runtime_of
from authward.web.origin import check_origin
from authward.web.pages.guard import field
from authward.web.pages.render import SCRIPT_POLICY, render
from authward.web.routing import device_of
from authward.web.transports import CSRF_FIELD, read_session_cookie


async def signed_in(request: Request) -> AuthUser | None:
    """The caller of a page by its session cookie, or None (no cookie, an ended session).

    Pages take the session cookie alone: no bearer header (a site behind HTTP Basic auth
    has browsers send ``Authorization`` with every request) and no token cookie. On a
    POST the origin is checked first, then the Authenticator asks for the form's CSRF
    token: a wrong one raises CsrfRejected (the 403 page). StoreUnavailable is raised:
    the page answers 503.
    """
    if request.method not in SAFE_METHODS:
        check_origin(request)
    _, cookies = credential_headers(request.scope["headers"])
    try:
        return await runtime_of(request).authenticator.caller(
            request, presented_csrf_token, request.method, None, cookies, SESSION_ONLY
        )
    except NotAuthenticated:
        return None


async def cookie_form(request: Request) -> tuple[str, FormData] | None:
    """The session cookie's id and the form of a POST that acts on that cookie itself.

    For the /how demo, which tests and revokes a session that may already have ended:
    the origin comes first, then the session's CSRF token (an HMAC of the id, so it is
    checked even when the session has ended). None without a session cookie at all.
    """
    check_origin(request)
    runtime = runtime_of(request)
    session_id = read_session_cookie(request, runtime.settings)
    if session_id is None:
        return None
    form = await request.form()
    runtime.sessions.check_csrf(session_id, field(form, CSRF_FIELD) or None)
    return session_id, form


def page(
    request: Request,
    template: str,
    status: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    """Render a page, with what the site-wide navigation needs.

    With ``passkey_script=True`` the page loads the passkey script, and its CSP allows
    that one same-origin script (every other page allows none).
    """
    context.setdefault("active", None)
    context.setdefault("passkey_script", False)
    if context["passkey_script"]:
        headers = {**(headers or {}), "content-security-policy": SCRIPT_POLICY}
    demo_pages = runtime_of(request).settings.demo_pages
    return render(template, status, headers, demo_pages=demo_pages, **context)


class PageRoute(APIRoute):
    """A route whose refusals are pages for a person, not JSON for a program.

    A page that answers GET answers HEAD too (RFC 9110 §9.3.2), as Starlette's own
    routes do and FastAPI's do not: the same status and headers, no body.
    """

    def __init__(self, path: str, endpoint: Callable[..., Any], **options: Any) -> None:
        methods = {method.upper() for method in options.pop("methods", None) or ("GET",)}
        if "GET" in methods:
            methods.add("HEAD")
        super().__init__(path, endpoint, methods=methods, **options)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def page_handler(request: Request) -> Response:
            response = await self._answer(handler, request)
            if request.method == "HEAD":
                # Content-Length stays the GET's, as RFC 9110 allows; the body goes.
                response.body = b""
            return response

        return page_handler

    @staticmethod
    async def _answer(
        handler: Callable[[Request], Coroutine[Any, Any, Response]], request: Request
    ) -> Response:
        try:
            with request_origin(lambda: device_of(request)):
                return await handler(request)
        except CsrfRejected:
            return page(request, "error.html", 403, problem="csrf", caller=None)
        except StoreUnavailable:
            retry = {"retry-after": "2"}
            return page(request, "error.html", 503, retry, problem="unavailable", caller=None)
