"""`AuthwardMiddleware`: authenticate every request, the way Starlette's middleware does.

Pure ASGI. It puts the caller on ``scope["user"]`` (an `AuthUser`, or Starlette's
``UnauthenticatedUser``) and ``scope["auth"]`` (``AuthCredentials``: ``authenticated``
and the strategy, ``session`` or ``jwt``), so ``request.user.is_authenticated``,
``request.user.display_name`` and ``@requires("authenticated")`` work as with
Starlette's own AuthenticationMiddleware. It builds on `authward.web.auth.authenticate`:

* a bearer token that does not hold is answered 401 at once (a client that tried to
  authenticate is told it failed, never served as anonymous);
* a session cookie (or, with ``AUTHWARD_TOKEN_COOKIES``, an access-token cookie) that no
  longer works (logged out, expired, revoked) is no credential: the request goes on as
  anonymous, so a sign-in page still works with a stale cookie;
* a cookie-authenticated unsafe request without its CSRF token goes on as anonymous,
  and `Authward`'s dependencies answer it 403 (so a sign-in or registration route that
  authenticates nobody still works while a session is live);
* a store that does not answer is a 503.

The CSRF token is read from the ``X-CSRF-Token`` header, or from an HTML form's
``csrf_token`` field: such a form body (up to ``AUTHWARD_MAX_BODY_BYTES``, else 413)
is read here and replayed to the app.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Final

from starlette.authentication import AuthCredentials, UnauthenticatedUser
from starlette.requests import HTTPConnection, Request
from starlette.types import ASGIApp, Receive, Scope, Send

from authward.callers import AuthUser
from authward.errors import AuthwardError, NotAuthenticated, PayloadTooLarge, StoreUnavailable
from authward.web.auth import (
    FORM_TYPES,
    SAFE_METHODS,
    Outcome,
    authenticate,
    bind_runtime,
    remember_outcome,
)
from authward.web.buffered import read_body, replay
from authward.web.errors import answer_error
from authward.web.facade import Authward
from authward.web.transports import CSRF_HEADER, access_cookie_name, read_session_cookie

__all__ = ["AuthwardMiddleware"]

POLICY_VIOLATION: Final = 1008  # RFC 6455 §7.4.1: close a websocket that failed to authenticate
TRY_AGAIN_LATER: Final = 1013


class AuthwardMiddleware:
    """Set ``scope["user"]`` and ``scope["auth"]`` from the bearer token or a cookie.

    With ``load_email=True`` the user's email is loaded too (one lookup per
    authenticated request), for ``display_name``.
    """

    def __init__(self, app: ASGIApp, auth: Authward, *, load_email: bool = False) -> None:
        self.app = app
        self.auth = auth
        self.load_email = load_email

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        bind_runtime(scope, self.auth.runtime)
        app_receive = receive
        if scope["type"] == "http" and self._form_csrf(scope):
            try:
                body = await read_body(receive, self.auth.settings.max_body_bytes)
            except PayloadTooLarge as exc:
                await answer_error(Request(scope), exc)(scope, receive, send)
                return
            receive, app_receive = replay(body, receive), replay(body, receive)
        # A websocket handshake is a GET: authenticated like one, with no CSRF token to check.
        view = scope if scope["type"] == "http" else {**scope, "type": "http", "method": "GET"}
        request = Request(view, receive)
        try:
            outcome: Outcome = await authenticate(request, self.auth.strategies)
        except StoreUnavailable as exc:
            await self._refuse(scope, receive, send, request, exc, TRY_AGAIN_LATER)
            return
        except NotAuthenticated as exc:
            if "authorization" in request.headers:
                await self._refuse(scope, receive, send, request, exc, POLICY_VIOLATION)
                return
            outcome = None
        except AuthwardError as exc:  # CsrfRejected: anonymous here, 403 from a dependency
            outcome = exc
        remember_outcome(scope, self.auth.runtime, self.auth.strategies, outcome)
        user = await self._user(outcome) if isinstance(outcome, AuthUser) else None
        if user is None:
            scope["user"], scope["auth"] = UnauthenticatedUser(), AuthCredentials()
        else:
            scope["user"], scope["auth"] = user, AuthCredentials(["authenticated", user.via])
        await self.app(scope, app_receive, send)

    def _form_csrf(self, scope: Scope) -> bool:
        """Whether the CSRF token can only be in the form body (so the body is read here)."""
        if scope["method"] in SAFE_METHODS:  # most requests: no CSRF token to look for
            return False
        connection = HTTPConnection(scope)
        settings = self.auth.settings
        return (
            CSRF_HEADER not in connection.headers
            and connection.headers.get("content-type", "").startswith(FORM_TYPES)
            and (
                read_session_cookie(connection, settings) is not None
                or (settings.token_cookies and access_cookie_name(settings) in connection.cookies)
            )
        )

    async def _user(self, caller: AuthUser) -> AuthUser | None:
        if caller.via not in self.auth.strategies:
            return None
        if not self.load_email:
            return caller
        accounts = self.auth.runtime.accounts
        account = accounts.kept_account(caller.id) or await accounts.account(caller.id)
        if account is None or account.disabled:
            return None
        return replace(caller, email=account.email)

    @staticmethod
    async def _refuse(
        scope: Scope,
        receive: Receive,
        send: Send,
        request: Request,
        exc: AuthwardError,
        close_code: int,
    ) -> None:
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": close_code})
            return
        await answer_error(request, exc)(scope, receive, send)
