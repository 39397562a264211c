"""Sign in (and its second step), create an account, sign out: the pages before (and at the
end of) a session."""

from __future__ import annotations

from typing import Any, Final

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from authward.accounts.models import User
from authward.errors import (
    CsrfRejected,
    EmailNotVerified,
    EmailTaken,
    InvalidCode,
    InvalidCredentials,
    InvalidInput,
    InvalidToken,
    TooManyAttempts,
)
from authward.web.accepted import later
from authward.web.api import device_of, login, second_step
from authward.web.auth import runtime_of, session_id_of
from authward.web.origin import check_origin
from authward.web.pages.guard import PreSessionCsrf, credential_of, field
from authward.web.pages.render import duration, redirect, safe_next
from authward.web.pages.route import PageRoute, page, signed_in
from authward.web.transports import clear_session_cookie, read_session_cookie, set_session_cookie

router = APIRouter(route_class=PageRoute)

# Fixed texts chosen by a key in the URL: nothing from the URL is ever shown.
NOTICES: Final = {
    "everywhere": "You were signed out on every device.",
    "ended": "That session has ended. Sign in to continue.",
    "mfa": "That sign-in took too long or was already finished. Please sign in again.",
    "check-mail": "Check your mail: a link to confirm your address is on its way.",
    "reset": "Your password was changed and every device signed out. Sign in with it now.",
    "verified": "Your email is confirmed. Sign in to continue.",
}


@router.get("/login")
async def login_page(request: Request, next: str | None = None) -> Response:
    target = safe_next(next)
    if await signed_in(request) is not None:
        return redirect(target)
    notice = NOTICES.get(request.query_params.get("notice", ""))
    return _form_page(request, "login.html", next=target, notice=notice, passkey_script=True)


@router.post("/login")
async def login_submit(request: Request) -> Response:
    """Sign in: 303 to `next` (or the account page), or the form again saying why not."""
    check_origin(request)
    form = await request.form()
    email, password = field(form, "email"), field(form, "password")
    again: dict[str, Any] = {"email": email, "next": safe_next(field(form, "next"))}
    try:
        PreSessionCsrf(runtime_of(request)).check(request, form)
    except CsrfRejected:
        return _form_page(request, "login.html", 403, problem="expired", **again)
    again["passkey_script"] = True
    try:
        user = await login(request, "session", email, password)
    except EmailNotVerified as exc:  # AUTHWARD_EMAIL_VERIFICATION=required; a link went out
        return _form_page(request, "login.html", 403, notice=exc.detail, **again)
    except TooManyAttempts as exc:
        headers = {"retry-after": str(exc.retry_after)}
        again.update(problem="throttled", wait=duration(exc.retry_after))
        return _form_page(request, "login.html", 429, headers, **again)
    except (InvalidCredentials, InvalidInput):
        # One message for an unknown email and a wrong password alike.
        return _form_page(request, "login.html", 400, problem="credentials", **again)
    if (owed := await second_step(request, user, "session")) is not None:
        # The password was right; the session waits for the second factor.
        return _mfa_page(request, owed.mfa_token, again["next"], "passkey" in owed.methods)
    return await _signed_in(request, user, again["next"])


@router.post("/login/passkey")
async def login_passkey_submit(request: Request) -> Response:
    """Sign in with a passkey alone (the script filled `credential`): 303 to `next`."""
    check_origin(request)
    runtime = runtime_of(request)
    form = await request.form()
    again: dict[str, Any] = {"next": safe_next(field(form, "next")), "passkey_script": True}
    try:
        PreSessionCsrf(runtime).check(request, form)
    except CsrfRejected:
        return _form_page(request, "login.html", 403, problem="expired", **again)
    try:
        used = await runtime.passkeys.authenticate(credential_of(form), require_uv=True)
    except (InvalidCode, InvalidInput):
        return _form_page(request, "login.html", 400, problem="passkey", **again)
    user = await runtime.accounts.users.get(used.passkey.user_id)
    if user is None or user.disabled:
        return _form_page(request, "login.html", 400, problem="passkey", **again)
    return await _signed_in(request, user, again["next"], amr=used.amr)


@router.get("/login/mfa")
async def login_mfa_page(request: Request) -> Response:
    """The second step is shown by the first (it carries its mfa_token): start there."""
    return redirect("/login")


@router.post("/login/mfa")
async def login_mfa_submit(request: Request) -> Response:
    """Finish a sign-in with a TOTP or recovery code: 303 to `next`, or the form again."""
    check_origin(request)
    runtime = runtime_of(request)
    form = await request.form()
    code = field(form, "code").strip()
    again: dict[str, Any] = {
        "mfa_token": field(form, "mfa_token"),
        "next": safe_next(field(form, "next")),
        "passkeys": True,
        "passkey_script": True,
    }
    try:
        PreSessionCsrf(runtime).check(request, form)
    except CsrfRejected:
        return _form_page(request, "login_mfa.html", 403, problem="expired", **again)
    # A passkey's answer when the script filled it; else digits are a TOTP code, and
    # anything else is tried as a recovery code.
    passkey = field(form, "credential") != ""
    totp = not passkey and code.replace(" ", "").isdigit()
    try:
        done = await runtime.factors.complete(
            again["mfa_token"],
            code=code if totp else None,
            recovery_code=code if not (totp or passkey) else None,
            credential=credential_of(form) if passkey else None,
            mode="session",
        )
    except InvalidToken:
        return redirect("/login?notice=mfa")
    except TooManyAttempts as exc:
        headers = {"retry-after": str(exc.retry_after)}
        again.update(problem="throttled", wait=duration(exc.retry_after))
        return _form_page(request, "login_mfa.html", 429, headers, **again)
    except (InvalidCode, InvalidInput):
        problem = "passkey" if passkey else "code"
        return _form_page(request, "login_mfa.html", 400, problem=problem, **again)
    user = await runtime.accounts.users.get(done.user_id)
    if user is None or user.disabled:
        return redirect("/login")
    return await _signed_in(request, user, again["next"], amr=("pwd", *done.methods))


@router.get("/register")
async def register_page(request: Request, next: str | None = None) -> Response:
    target = safe_next(next)
    if await signed_in(request) is not None:
        return redirect(target)
    return _form_page(request, "register.html", next=target)


@router.post("/register")
async def register_submit(request: Request) -> Response:
    """Create an account and sign in to it; or the form again saying what to fix."""
    check_origin(request)
    form = await request.form()
    email, password = field(form, "email"), field(form, "password")
    again: dict[str, Any] = {"email": email, "next": safe_next(field(form, "next"))}
    try:
        PreSessionCsrf(runtime_of(request)).check(request, form)
    except CsrfRejected:
        return _form_page(request, "register.html", 403, problem="expired", **again)
    try:
        address = device_of(request).ip
        registration = runtime_of(request).flows.registration
        if registration.answers_alike:
            # AUTHWARD_EMAIL_VERIFICATION=required: one answer for a new and a taken email;
            # the account (or the owner's notice) is made after it, and nobody signs in.
            normalized = await registration.admit(email, password, address=address)
            response = redirect("/login?notice=check-mail")
            response.background = later(registration.complete, normalized, password)
            return response
        user = await registration.register(email, password, address=address)
    except TooManyAttempts as exc:
        wait = duration(exc.retry_after)
        problem = f"Too many sign-ups from your network. Please try again in {wait}."
        headers = {"retry-after": str(exc.retry_after)}
        return _form_page(request, "register.html", 429, headers, problem=problem, **again)
    except InvalidInput as exc:
        return _form_page(request, "register.html", 400, problem=exc.message, **again)
    except EmailTaken:
        return _form_page(request, "register.html", 409, problem="taken", **again)
    return await _signed_in(request, user, again["next"])


@router.post("/logout")
async def logout(request: Request) -> Response:
    """End this session and clear its cookie; 303 to the sign-in page.

    An ended session's cookie is only cleared: there is nothing left to end.
    """
    runtime = runtime_of(request)
    caller = await signed_in(request)
    if caller is not None and (session_id := session_id_of(request, caller)) is not None:
        await runtime.sessions.log_out(session_id)
    response = redirect("/login")
    clear_session_cookie(response, runtime.settings)
    return response


def _mfa_page(request: Request, mfa_token: str, next_path: str, passkeys: bool) -> Response:
    return _form_page(
        request,
        "login_mfa.html",
        mfa_token=mfa_token,
        next=next_path,
        passkeys=passkeys,
        passkey_script=passkeys,
    )


def _form_page(
    request: Request,
    template: str,
    status: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> Response:
    """A form shown before sign-in, with its pre-session CSRF token."""
    csrf = PreSessionCsrf(runtime_of(request))
    nonce, token = csrf.issue(request)
    context = {"email": "", "problem": None, "notice": None, **context}
    response = page(request, template, status, headers, caller=None, csrf_token=token, **context)
    csrf.keep(response, nonce)
    return response


async def _signed_in(
    request: Request, user: User, target: str, *, amr: tuple[str, ...] = ("pwd",)
) -> Response:
    """Start a session for `user` with a fresh id, and go on to `target`."""
    runtime = runtime_of(request)
    # An id the browser sent before sign-in is never kept (no fixation): end it outright.
    if (previous := read_session_cookie(request, runtime.settings)) is not None:
        await runtime.sessions.end(previous)
    started = await runtime.sessions.start(user.id, device_of(request), amr=amr)
    response = redirect(target)
    set_session_cookie(response, started.session_id, runtime.settings)
    PreSessionCsrf(runtime).forget(response)
    return response
