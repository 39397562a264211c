"""What a credential means: a session id (the session strategy) or an access token (JWT).

A strategy turns the credential a transport found into the caller, or raises
(NotAuthenticated or a subclass, StoreUnavailable); it also checks the CSRF token of a
credential that came in a cookie. Each counts its outcomes in `authward.metrics`.

The services behind them are named by small Protocols: this package imports no concept,
so the remote verifier can stand on it without the stores.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, Protocol

from authward.auth.transports import bearer_token
from authward.callers import AuthUser, Callers
from authward.errors import AuthwardError
from authward.metrics import JWT_OK, SESSION_OK, count_refused

if TYPE_CHECKING:
    from authward.sessions.models import Session
    from authward.tokens.models import AccessClaims

__all__ = ["JwtStrategy", "SessionChecks", "SessionStrategy", "TokenChecks"]

PASSWORD_ONLY: Final = ("pwd",)


class SessionChecks(Protocol):
    """What the session strategy asks of the session service."""

    def held(self, session_id: str) -> Session | None: ...
    async def resume(self, session_id: str) -> Session: ...
    def check_csrf(self, session_id: str, presented: str | None) -> None: ...


class TokenChecks(Protocol):
    """What the JWT strategy asks of the token service (or of a JWKS verifier)."""

    def verify(self, token: str) -> AccessClaims: ...
    def check_csrf(self, family_id: str, presented: str | None) -> None: ...


class SessionStrategy:
    """A session id names a live session; its CSRF token is an HMAC of the id."""

    def __init__(self, sessions: SessionChecks, callers: Callers) -> None:
        self.sessions = sessions
        self._callers = callers

    def held(self, session_id: str) -> AuthUser | None:
        """The caller of a session this process holds fresh; no I/O, no await.

        None sends the caller to `resume`: no fresh copy here, or a slide due.
        """
        session = self.sessions.held(session_id)
        if session is None:
            return None
        SESSION_OK.inc()
        return self._caller(session)

    async def resume(self, session_id: str) -> AuthUser:
        """The caller of the live session of this id, slid; raises for any other id."""
        return self._caller(await self.live(session_id))

    def _caller(self, session: Session) -> AuthUser:
        # The login's time as `Session.assurance` has it, without building one.
        auth_time = session.auth_time or session.created_at
        return self._callers.of(session.user_id, "session", session.handle, auth_time, session.amr)

    async def live(self, session_id: str) -> Session:
        """The live session of this id, slid (the record, for a page that shows it).

        Raises NotAuthenticated (or a subclass) for an unknown, ended or expired id, and
        StoreUnavailable while the store does not answer.
        """
        try:
            session = await self.sessions.resume(session_id)
        except AuthwardError as exc:
            count_refused("session", exc)
            raise
        SESSION_OK.inc()
        return session

    def check_csrf(self, session_id: str, presented: str | None) -> None:
        self.sessions.check_csrf(session_id, presented)


class JwtStrategy:
    """An access token is valid and unrevoked; a cookie's CSRF token is its family's."""

    def __init__(self, tokens: TokenChecks, callers: Callers) -> None:
        self.tokens = tokens
        self._callers = callers

    def bearer(self, authorization: str) -> AuthUser:
        """The caller of an Authorization header's bearer token; no I/O, no await."""
        try:
            claims = self.tokens.verify(bearer_token(authorization))
        except AuthwardError as exc:
            count_refused("jwt", exc)
            raise
        JWT_OK.inc()
        return self._caller(claims)

    def token(self, token: str) -> AuthUser:
        """The caller of an access token that came in a cookie; no I/O, no await."""
        try:
            claims = self.tokens.verify(token)  # which refuses an oversized one first
        except AuthwardError as exc:
            count_refused("jwt", exc)
            raise
        JWT_OK.inc()
        return self._caller(claims)

    def _caller(self, claims: AccessClaims) -> AuthUser:
        # A token from before the claims were carried: its login is its issue, a password.
        auth_time, amr = claims.auth_time or claims.iat, claims.amr or PASSWORD_ONLY
        return self._callers.of(claims.sub, "jwt", claims.sid, auth_time, amr)

    def check_csrf(self, caller: AuthUser, presented: str | None) -> None:
        self.tokens.check_csrf(caller.handle, presented)  # the handle is the family's id
