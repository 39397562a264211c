"""Who is looking at a page, and the checks every page's POST goes through."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from fastapi.routing import APIRoute
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from authward.accounts.models import User
from authward.errors import CsrfRejected, NotAuthenticated, StoreUnavailable
from authward.events import request_origin
from authward.runtime import Runtime
from authward.sessions.models import Session
from authward.web.auth import runtime_of
from authward.web.origin import check_origin
from authward.web.pages.guard import field
from authward.web.pages.render import SCRIPT_POLICY, render
from authward.web.routing import device_of
from authward.web.transports import CSRF_FIELD, read_session_cookie


@dataclass(frozen=True, slots=True)
class Visitor:
    """What a signed-in page shows: the live session (and the cookie's value) and account.

    A page's view, not another caller type: the records a page displays, which the
    `AuthUser` of the API and dependencies does not carry.
    """

    session_id: str
    session: Session
    user: User
    csrf_token: str

    def __repr__(self) -> str:
        return f"Visitor(user={self.user!r}, handle={self.session.handle!r})"


async def visitor(request: Request) -> Visitor | None:
    """The signed-in visitor, or None (no cookie, an ended or expired session, no account)."""
    runtime = runtime_of(request)
    session_id = read_session_cookie(request, runtime.settings)
    if session_id is None:
        return None
    return await visitor_of(runtime, session_id)


async def visitor_of(runtime: Runtime, session_id: str) -> Visitor | None:
    """The visitor of this session id by the Authenticator's session strategy, or None.

    Pages take the session cookie alone (never a bearer header or a token cookie).
    StoreUnavailable is raised: the page answers 503.
    """
    try:
        session = await runtime.authenticator.session.live(session_id)
    except NotAuthenticated:
        return None
    user = await runtime.accounts.users.get(session.user_id)
    if user is None or user.disabled:
        return None
    return Visitor(session_id, session, user, runtime.sessions.csrf_token(session_id))


async def signed_in_form(request: Request) -> tuple[str, FormData] | None:
    """The session id and form of a signed-in page's POST, checked against CSRF.

    The origin comes first, then the session's CSRF token (an HMAC of the id, so it is
    checked even when the session has just ended). None when there is no session
    cookie at all: such a POST can do nothing, and goes to the sign-in page.
    """
    check_origin(request)
    session_id = read_session_cookie(request, runtime_of(request).settings)
    if session_id is None:
        return None
    form = await request.form()
    runtime_of(request).sessions.check_csrf(session_id, field(form, CSRF_FIELD) or None)
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
    """A route whose refusals are pages for a person, not JSON for a program."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def page_handler(request: Request) -> Response:
            try:
                with request_origin(lambda: device_of(request)):
                    return await handler(request)
            except CsrfRejected:
                return page(request, "error.html", 403, problem="csrf", visitor=None)
            except StoreUnavailable:
                retry = {"retry-after": "2"}
                return page(request, "error.html", 503, retry, problem="unavailable", visitor=None)

        return page_handler
