"""The errors authward raises on purpose.

Domain code raises these; only ``authward.web.errors`` turns them into HTTP answers, so
the same failure gets the same status everywhere::

    AuthwardError                               anything else        400
      InvalidLink             a mailed link's token that cannot be used (any reason)
      InvalidInput            malformed email, short password        422
        WeakPassword          refused by the password policy
          CommonPassword      one of the most common passwords
          BreachedPassword    found in the breach corpus (Pwned Passwords)
          PasswordContainsEmail  the account's email or its name part
      PayloadTooLarge         body, header or token over its limit   413
      NotAuthenticated        no usable credential                   401
        InvalidCredentials    wrong email or password (or disabled)
        InvalidToken          signature, kid, header or claims
          TokenExpired        a genuine access token past its exp (metrics tell it apart)
          TokenRevoked        a genuine access token of a revoked family or user
          RefreshReuse        a spent refresh token came back; its family is revoked
        SessionExpired        idle or absolute timeout passed
        InvalidCode           a wrong, replayed or spent second-factor code
        ReauthRequired        the login is too old or too weak for the change (step-up)
      Forbidden                                                      403
        CsrfRejected          missing or wrong CSRF token
        WrongPassword         the current password did not match
        EmailNotVerified      the right password, but the email is not verified yet
      NotFound                includes another user's session id     404
      EmailTaken                                                     409
      FactorExists            a second factor that is already on     409
      TooManyPasskeys         the account's passkeys are at the cap  409
      TooManyAttempts         carries retry_after                    429
      StoreUnavailable        a store did not answer                 503

No ``detail`` says whether the email or the password was wrong.
"""

from __future__ import annotations

from typing import ClassVar


class AuthwardError(Exception):
    """Base of every error authward raises on purpose."""

    code: ClassVar[str] = "error"
    detail: ClassVar[str] = "Request failed."

    def __str__(self) -> str:
        return self.detail


class InvalidLink(AuthwardError):
    """Malformed, unknown, used, expired, voided, or no longer bound to the account's
    address: one answer for all, so nothing tells them apart."""

    code = "invalid_link"
    detail = "This link is invalid or has expired."


class InvalidInput(AuthwardError):
    code = "invalid_input"
    detail = "Invalid input."

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.detail)
        self.message = message or self.detail

    def __str__(self) -> str:
        return self.message


class WeakPassword(InvalidInput):
    """A new password the policy refuses; each reason is a subclass with its own code.

    The detail says why: it is the person's own password, so telling them leaks nothing.
    """

    code = "weak_password"
    detail = "This password is too easy to guess; choose another."


class CommonPassword(WeakPassword):
    code = "common_password"
    detail = "This password is one of the most common passwords; choose another."


class BreachedPassword(WeakPassword):
    code = "breached_password"
    detail = "This password has appeared in a data breach; choose another."


class PasswordContainsEmail(WeakPassword):
    code = "password_contains_email"
    detail = "The password must not contain your email address or the part before the @."


class PayloadTooLarge(AuthwardError):
    code = "payload_too_large"
    detail = "Request too large."


class NotAuthenticated(AuthwardError):
    code = "not_authenticated"
    detail = "Not authenticated."


class InvalidCredentials(NotAuthenticated):
    code = "invalid_credentials"
    detail = "Invalid email or password."


class InvalidToken(NotAuthenticated):
    code = "invalid_token"
    detail = "Invalid token."


class TokenExpired(InvalidToken):
    code = "token_expired"
    detail = "Invalid token."  # the same answer as any bad token


class TokenRevoked(InvalidToken):
    code = "token_revoked"
    detail = "Invalid token."


class RefreshReuse(InvalidToken):
    code = "refresh_reuse"
    detail = "Invalid token."  # the same answer as any bad token: tell a thief nothing


class SessionExpired(NotAuthenticated):
    code = "session_expired"
    detail = "Not authenticated."


class InvalidCode(NotAuthenticated):
    code = "invalid_code"
    detail = "Invalid code."


class ReauthRequired(NotAuthenticated):
    """Step-up (RFC 9470): the caller is who they say, but their login is older than
    `max_age` seconds or below the level `acr` asks for; a fresh authentication answers it.
    """

    code = "insufficient_user_authentication"
    detail = "A more recent authentication is required."

    def __init__(self, max_age: int, acr: str | None = None) -> None:
        super().__init__(self.detail)
        self.max_age = max_age
        self.acr = acr  # set when the level, not only the age, is what falls short


class Forbidden(AuthwardError):
    code = "forbidden"
    detail = "Forbidden."


class CsrfRejected(Forbidden):
    code = "csrf_rejected"
    detail = "CSRF token missing or wrong."


class WrongPassword(Forbidden):
    code = "wrong_password"
    detail = "Current password is wrong."


class EmailNotVerified(Forbidden):
    code = "email_not_verified"
    detail = "Verify your email address first: a new link is on its way."


class NotFound(AuthwardError):
    code = "not_found"
    detail = "Not found."


class EmailTaken(AuthwardError):
    code = "email_taken"
    detail = "This email is already registered."


class FactorExists(AuthwardError):
    code = "factor_exists"
    detail = "This second factor is already on; turn it off first."


class TooManyPasskeys(AuthwardError):
    """The account holds as many passkeys as it may; one must go before another comes."""

    code = "too_many_passkeys"
    detail = "This account has as many passkeys as it can hold; remove one first."


class TooManyAttempts(AuthwardError):
    code = "too_many_attempts"
    detail = "Too many attempts; try again later."

    def __init__(self, retry_after: int) -> None:
        super().__init__(self.detail)
        self.retry_after = max(1, retry_after)


class StoreUnavailable(AuthwardError):
    code = "store_unavailable"
    detail = "A backing store is unavailable; try again shortly."

    def __init__(self, store: str = "store") -> None:
        super().__init__(self.detail)
        self.store = store
        # Which one (database, redis, revocations...): an operator reading a 503 or a
        # client's log needs it first; the code stays the same for every store.
        self.message = f"A backing store ({store}) is unavailable; try again shortly."

    def __str__(self) -> str:
        return self.message
