"""The pages a mailed link leads to: forgot password, reset password, verify an address.

`authward.flows` does the work, as for the JSON routes; these pages stay thin. Three
rules shape them:

* A link's token must not linger where it can leak. ``GET /reset?token=…`` moves it into
  a short-lived ``HttpOnly``, ``SameSite=Strict`` cookie scoped to ``/reset`` and answers
  303 to the bare ``/reset``: the token leaves the address bar and the history. Every one
  of these pages sends ``Referrer-Policy: no-referrer`` (a link followed from them, or the
  redirect itself, would otherwise carry the token in ``Referer``).
* A GET changes nothing: mail scanners prefetch links. ``/verify?token=…`` shows one
  button that POSTs the token; ``/reset`` shows a form.
* ``POST /forgot`` answers one page whatever the email: whether an account exists is
  decided after the answer went out (`later`).

The forms are shown before sign-in, so they carry the pre-session CSRF token
(`PreSessionCsrf`), and every POST passes the origin check first.
"""

from __future__ import annotations

from typing import Any, Final

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from authward import crypto
from authward.errors import CsrfRejected, InvalidInput, InvalidLink, TooManyAttempts
from authward.web.accepted import later
from authward.web.addresses import client_address
from authward.web.auth import runtime_of
from authward.web.origin import check_origin
from authward.web.pages.guard import PreSessionCsrf, field
from authward.web.pages.render import duration, redirect
from authward.web.pages.route import PageRoute, page
from authward.web.transports import read_session_cookie

router = APIRouter(route_class=PageRoute)

RESET_PATH: Final = "/reset"
SECURE_RESET_COOKIE: Final = "__Secure-authward_reset"  # not __Host-: its path is /reset
INSECURE_RESET_COOKIE: Final = "authward_reset"
# Long enough to choose a password, short enough that a browser left open forgets it; the
# token's own lifetime (AUTHWARD_RESET_TTL) still bounds it.
RESET_COOKIE_TTL: Final = 15 * 60
# Whatever the page shows, nothing it links to may learn the token from Referer.
NO_REFERRER: Final = {"referrer-policy": "no-referrer"}


def _address(request: Request) -> str:
    return client_address(request.scope, runtime_of(request).settings.trusted_proxies)


def _reset_cookie(request: Request) -> str:
    settings = runtime_of(request).settings
    return INSECURE_RESET_COOKIE if settings.insecure_cookies else SECURE_RESET_COOKIE


def _drop_reset_cookie(request: Request, response: Response) -> None:
    response.delete_cookie(
        _reset_cookie(request),
        path=RESET_PATH,
        secure=not runtime_of(request).settings.insecure_cookies,
        httponly=True,
        samesite="strict",
    )


def _quiet_redirect(url: str) -> Response:
    response = redirect(url)
    response.headers.update(NO_REFERRER)
    return response


# --- forgot password ------------------------------------------------------------------


@router.get("/forgot")
async def forgot_page(request: Request) -> Response:
    return _form_page(request, "forgot.html")


@router.post("/forgot")
async def forgot_submit(request: Request) -> Response:
    """The "check your mail" page, alike for every email; the mail goes out afterwards."""
    check_origin(request)
    form = await request.form()
    email = field(form, "email")
    try:
        PreSessionCsrf(runtime_of(request)).check(request, form)
    except CsrfRejected:
        return _form_page(request, "forgot.html", 403, problem="expired", email=email)
    reset = runtime_of(request).flows.reset
    try:
        await reset.admit(_address(request))
    except TooManyAttempts as exc:
        headers = {"retry-after": str(exc.retry_after)}
        wait = duration(exc.retry_after)
        return _form_page(
            request, "forgot.html", 429, headers, problem="throttled", wait=wait, email=email
        )
    response = _form_page(request, "forgot.html", sent=True)
    response.background = later(reset.send, email)
    return response


# --- reset password -------------------------------------------------------------------


@router.get("/reset")
async def reset_page(request: Request, token: str | None = None) -> Response:
    """With ``?token=``: keep the token in a cookie and 303 to the bare URL. Without: the form.

    The form shows even without the cookie. A link opened from a webmail is a cross-site
    navigation, and the browser may hold the SameSite=Strict cookie back on the redirect
    that follows it; the form's own POST is same-site and carries it.
    """
    if token is not None:
        response = _quiet_redirect(RESET_PATH)
        if crypto.is_token_shaped(token):
            response.set_cookie(
                _reset_cookie(request),
                token,
                max_age=RESET_COOKIE_TTL,
                path=RESET_PATH,
                secure=not runtime_of(request).settings.insecure_cookies,
                httponly=True,
                samesite="strict",
            )
        else:  # nothing but a token is ever stored; the POST then says the link is void
            _drop_reset_cookie(request, response)
        return response
    return _form_page(request, "reset.html")


@router.post("/reset")
async def reset_submit(request: Request) -> Response:
    """Set the new password: 303 to /login with a notice, or the form again saying why."""
    check_origin(request)
    form = await request.form()
    try:
        PreSessionCsrf(runtime_of(request)).check(request, form)
    except CsrfRejected:
        return _form_page(request, "reset.html", 403, problem="expired")
    token = request.cookies.get(_reset_cookie(request), "")
    try:
        await runtime_of(request).flows.reset.complete(token, field(form, "new_password"))
    except InvalidInput as exc:  # refused before the link was spent: it can be used again
        return _form_page(request, "reset.html", 400, problem=exc.message)
    except InvalidLink:
        response = _form_page(request, "reset.html", 400, problem="link")
        _drop_reset_cookie(request, response)
        return response
    response = _quiet_redirect("/login?notice=reset")
    _drop_reset_cookie(request, response)
    return response


# --- verify an address ----------------------------------------------------------------


@router.get("/verify")
async def verify_page(request: Request, token: str = "") -> Response:
    """One button that POSTs the token: a GET (a scanner's prefetch) verifies nothing."""
    shown = token if crypto.is_token_shaped(token) else ""
    return _form_page(request, "verify.html", token=shown, problem=None if shown else "link")


@router.post("/verify")
async def verify_submit(request: Request) -> Response:
    """Use a verification or email-change link; 303 on, or the page saying it is void.

    The browser's own session, if it has one, is kept when the first verification ends
    the account's other sessions (`AccountLifecycle.verify_email`): whoever holds the link
    is the owner. A session id of another account keeps nothing of this one.
    """
    check_origin(request)
    runtime = runtime_of(request)
    form = await request.form()
    token = field(form, "token")
    try:
        PreSessionCsrf(runtime).check(request, form)
    except CsrfRejected:
        return _form_page(request, "verify.html", 403, problem="expired", token=token)
    session_id = read_session_cookie(request, runtime.settings)
    try:
        await runtime.flows.verification.verify(token, keep_session_id=session_id)
    except InvalidLink:
        return _form_page(request, "verify.html", 400, problem="link", token="")
    target = "/account?notice=verified" if session_id else "/login?notice=verified"
    return _quiet_redirect(target)


def _form_page(
    request: Request,
    template: str,
    status: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> Response:
    """A form of these pages, with its pre-session CSRF token and no Referer to give."""
    csrf = PreSessionCsrf(runtime_of(request))
    nonce, token = csrf.issue(request)
    context = {"email": "", "problem": None, "sent": False, **context}
    headers = {**(headers or {}), **NO_REFERRER}
    response = page(request, template, status, headers, caller=None, csrf_token=token, **context)
    csrf.keep(response, nonce)
    return response
