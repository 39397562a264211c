"""CSRF defences of the pages' forms: where a POST came from, and the token it carries.

Two layers, both required:

* the origin: a browser says who sent a POST (``Sec-Fetch-Site``, ``Origin``); anything
  but this very origin is refused before a form is even read (`authward.web.origin`,
  shared with the API routes that set cookies);
* a token in every form. Signed-in forms carry the session's CSRF token (an HMAC of the
  session id, checked by `SessionService.check_csrf`). The sign-in and register forms
  have no session yet, and a forged login (signing the victim into the attacker's
  account) is an attack too (OWASP CSRF Cheat Sheet, "Login CSRF"): they carry a signed
  double-submit token. A random nonce lives in a short-lived HttpOnly, SameSite=Strict
  cookie, and the form holds ``<issued>.<HMAC(key, nonce.issued)>`` under a key derived
  for this purpose alone. Another site can neither read the cookie nor compute the HMAC,
  and the ``__Host-`` prefix keeps a sibling subdomain from planting its own nonce.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Final

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from authward import crypto
from authward.errors import InvalidInput
from authward.runtime import Runtime
from authward.web.origin import reject
from authward.web.transports import CSRF_FIELD

KEY_PURPOSE: Final = "authward/page-csrf"
SECURE_COOKIE: Final = "__Host-authward_csrf"
INSECURE_COOKIE: Final = "authward_csrf"
TOKEN_TTL: Final = 2 * 60 * 60  # seconds a sign-in form stays usable
MAX_CREDENTIAL_TEXT: Final = 16_384  # a passkey's assertion or attestation is a few KiB


def field(form: FormData, name: str) -> str:
    """A text field of the form; absent or a file upload reads as empty."""
    value = form.get(name)
    return value if isinstance(value, str) else ""


def credential_of(form: FormData) -> dict[str, object]:
    """The passkey answer the script put in a form's `credential` field, as JSON;
    InvalidInput when it is no JSON object (or is larger than any real one)."""
    text = field(form, "credential")
    if not text or len(text) > MAX_CREDENTIAL_TEXT:
        raise InvalidInput("No passkey answer.")
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: "[[[[…", nested too deep
        raise InvalidInput("No passkey answer.") from None
    if not isinstance(value, dict):
        raise InvalidInput("No passkey answer.")
    return value


class PreSessionCsrf:
    """The signed double-submit token of the forms shown before sign-in."""

    def __init__(self, runtime: Runtime) -> None:
        self._key = runtime.master.derive(KEY_PURPOSE)
        self._clock = runtime.clock
        self._insecure = runtime.settings.insecure_cookies

    @property
    def cookie_name(self) -> str:
        return INSECURE_COOKIE if self._insecure else SECURE_COOKIE

    def nonce_of(self, request: Request) -> str | None:
        value = request.cookies.get(self.cookie_name, "")
        return value if crypto.is_token_shaped(value) else None

    def issue(self, request: Request) -> tuple[str, str]:
        """A nonce and the token for a form about to be shown.

        The browser's nonce is kept when it has one, so two open tabs both stay valid.
        """
        nonce = self.nonce_of(request) or crypto.new_token()
        return nonce, self._sign(nonce, int(self._clock.now().timestamp()))

    def keep(self, response: Response, nonce: str) -> None:
        """Set (or refresh) the nonce cookie on the answer that carries the form."""
        response.set_cookie(
            self.cookie_name,
            nonce,
            max_age=TOKEN_TTL,
            path="/",
            secure=not self._insecure,
            httponly=True,
            samesite="strict",
        )

    def check(self, request: Request, form: FormData) -> None:
        """Raise CsrfRejected unless the form's token matches the cookie and is fresh."""
        nonce = self.nonce_of(request)
        issued_text, _, mac = field(form, CSRF_FIELD).partition(".")
        if nonce is None or not issued_text.isdigit() or len(issued_text) > 12:
            reject("pre-session csrf token missing")
        issued = int(issued_text)
        age = int(self._clock.now().timestamp()) - issued
        expected = self._sign(nonce, issued).partition(".")[2]
        if not crypto.same(mac, expected) or not -60 <= age <= TOKEN_TTL:
            reject("pre-session csrf token wrong or stale")

    def forget(self, response: Response) -> None:
        """Drop the nonce once signed in: from then on the session's token is used."""
        response.delete_cookie(
            self.cookie_name,
            path="/",
            secure=not self._insecure,
            httponly=True,
            samesite="strict",
        )

    def _sign(self, nonce: str, issued: int) -> str:
        message = f"{nonce}.{issued}".encode()
        mac = hmac.new(self._key, message, hashlib.sha256).digest()
        return f"{issued}." + base64.urlsafe_b64encode(mac).rstrip(b"=").decode()
