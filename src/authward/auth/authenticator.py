"""The one way through: who made a request, from its credential headers.

The order is written here and nowhere else:

1. an Authorization header, when present, decides alone (a bad one raises, never a
   fall back to a cookie);
2. otherwise the session cookie;
3. otherwise, with ``AUTHWARD_TOKEN_COOKIES``, the access-token cookie. It is also read
   when the session cookie no longer works (ended, expired): a stale cookie of one kind
   does not hide a live one of the other. A CSRF refusal or a store that does not answer
   never falls through.

A cookie is read only when the route accepts its strategy: a session-only route never
looks at the token cookie (nor asks for its CSRF token), a token-only one never at the
session cookie.

Only a cookie-borne credential on an unsafe method needs a CSRF token: a bearer token
cannot be sent by a cross-site form, a cookie can. What a refusal becomes (a 401, an
anonymous request, a closed websocket) is each caller's business; the order is not.

A token seen before, or a session this process holds fresh, costs no await at all: the
protected request's hot path is one pass over the headers and a dictionary lookup.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Final, TypeVar

from authward.auth.strategies import JwtStrategy, SessionChecks, SessionStrategy, TokenChecks
from authward.auth.transports import access_cookie_name, cookie_in, session_cookie_name
from authward.callers import AuthUser, Callers
from authward.errors import NotAuthenticated
from authward.ids import Via
from authward.settings import Settings

__all__ = ["ALL_VIAS", "JWT_ONLY", "SAFE_METHODS", "SESSION_ONLY", "Authenticator"]

SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
ALL_VIAS: Final[frozenset[Via]] = frozenset({"session", "jwt"})
JWT_ONLY: Final[frozenset[Via]] = frozenset({"jwt"})
SESSION_ONLY: Final[frozenset[Via]] = frozenset({"session"})

Source = TypeVar("Source")
# Reads the CSRF token a request presents (a header, or a form's field); asked only for a
# cookie-borne credential on an unsafe method, so a form body is read only then.
CsrfReader = Callable[[Source], Awaitable[str | None]]


class Authenticator:
    """Transports (bearer header, session cookie, token cookie) × strategies (session, JWT).

    Framework-free: it reads the raw Authorization and Cookie header values, and asks the
    web layer's `CsrfReader` for a CSRF token only when one is needed.
    """

    def __init__(self, sessions: SessionChecks, tokens: TokenChecks, settings: Settings) -> None:
        callers = Callers()
        self.session = SessionStrategy(sessions, callers)
        self.jwt = JwtStrategy(tokens, callers)
        self.session_cookie = session_cookie_name(settings)
        # None unless AUTHWARD_TOKEN_COOKIES: then no request pays for looking.
        self.access_cookie = access_cookie_name(settings) if settings.token_cookies else None

    async def caller(
        self,
        source: Source,
        read_csrf: CsrfReader[Source],
        method: str,
        authorization: str | None,
        cookies: list[str],
        accepted: frozenset[Via] = ALL_VIAS,
    ) -> AuthUser | None:
        """The caller by a strategy in `accepted`; None without such a credential.

        Raises NotAuthenticated (or a subclass) for a credential that does not hold,
        CsrfRejected for a cookie-borne one on an unsafe method without its CSRF token,
        StoreUnavailable while a store does not answer. `source` is handed to
        `read_csrf` as it is.
        """
        if authorization is not None:
            user = self.jwt.bearer(authorization)
        elif (
            "session" in accepted
            and (session_id := cookie_in(cookies, self.session_cookie)) is not None
        ):
            held = self.session.held(session_id) if method in SAFE_METHODS else None
            if held is not None:
                user = held
            else:
                try:
                    user = await self._live_session(source, read_csrf, method, session_id)
                except NotAuthenticated:
                    if (token := self._access_token(cookies, accepted)) is None:
                        raise
                    user = await self._token_cookie(source, read_csrf, method, token)
        elif (token := self._access_token(cookies, accepted)) is not None:
            user = await self._token_cookie(source, read_csrf, method, token)
        else:
            return None
        return user if user.via in accepted else None

    def _access_token(self, cookies: list[str], accepted: frozenset[Via]) -> str | None:
        # A route that takes no token never reads the token cookie: its CSRF token would
        # be asked for, and a missing one would be a 403 where no credential is a 401.
        if self.access_cookie is None or "jwt" not in accepted:
            return None
        return cookie_in(cookies, self.access_cookie)

    async def _live_session(
        self, source: Source, read_csrf: CsrfReader[Source], method: str, session_id: str
    ) -> AuthUser:
        user = await self.session.resume(session_id)
        if method not in SAFE_METHODS:
            self.session.check_csrf(session_id, await read_csrf(source))
        return user

    async def _token_cookie(
        self, source: Source, read_csrf: CsrfReader[Source], method: str, token: str
    ) -> AuthUser:
        user = self.jwt.token(token)
        if method not in SAFE_METHODS:
            self.jwt.check_csrf(user, await read_csrf(source))
        return user
