"""Step-up on the pages: the re-authentication page, and the guard that sends people there.

A sensitive page (or its form's POST) whose session signed in longer ago than
``AUTHWARD_REAUTH_MAX_AGE`` answers 303 to ``/reauth?next=<the page>``. There the person
proves it is them again with what their account has: the password, a code from the
authenticator app, or a passkey. The proof is checked by the same flow as the API's
``POST /auth/reauth`` (counted and throttled the same way), the session's login becomes
recent, and the person goes back to `next`, which must be a path on this site
(`safe_next`): the page is no open redirect.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from authward.callers import AuthUser
from authward.errors import (
    InvalidCode,
    InvalidInput,
    NotAuthenticated,
    ReauthRequired,
    TooManyAttempts,
    WrongPassword,
)
from authward.flows import Proof
from authward.web.auth import require_recent_login, runtime_of, session_id_of
from authward.web.pages.account import to_login
from authward.web.pages.guard import credential_of, field
from authward.web.pages.render import duration, redirect, safe_next
from authward.web.pages.route import PageRoute, page, signed_in
from authward.web.routing import device_of

router = APIRouter(route_class=PageRoute)
HERE = "/reauth"


def reauth_url(next_path: str) -> str:
    """The re-authentication page, coming back to `next_path` afterwards."""
    return HERE + "?" + urlencode({"next": next_path}, safe="/")


async def stale(request: Request, person: AuthUser, here: str) -> Response | None:
    """The detour to /reauth when `person`'s login is not recent; None when it is."""
    try:
        await require_recent_login(request, person)
    except ReauthRequired:
        return redirect(reauth_url(here))
    return None


@router.get(HERE)
async def reauth_page(request: Request, next: str | None = None) -> Response:
    target = safe_next(next)
    if (person := await signed_in(request)) is None:
        return to_login(request, target)
    return await _form(request, person, target)


@router.post(HERE)
async def reauth_submit(request: Request) -> Response:
    """Check one proof (the form that was sent carries exactly one); 303 to `next`."""
    if (person := await signed_in(request)) is None:
        return to_login(request, None)
    form = await request.form()
    target = safe_next(field(form, "next"))
    session_id = session_id_of(request, person)
    if session_id is None:
        return to_login(request, target)
    # The passkey form's script fills `credential`; the code form sends `code`; else the
    # password form. One proof per post, as the API takes exactly one.
    passkey = field(form, "credential") != ""
    code = field(form, "code").strip()
    reauth = runtime_of(request).flows.reauth
    try:
        if passkey:
            proof = Proof(credential=credential_of(form))
        elif code:
            proof = Proof(code=code)
        else:
            proof = Proof(password=field(form, "password"))
        await reauth.session(person.id, session_id, proof, address=device_of(request).ip)
    except TooManyAttempts as exc:
        headers = {"retry-after": str(exc.retry_after)}
        wait = duration(exc.retry_after)
        return await _form(request, person, target, 429, headers, problem="throttled", wait=wait)
    except WrongPassword:
        return await _form(request, person, target, 400, problem="password")
    except (InvalidCode, InvalidInput):
        problem = "passkey" if passkey else "code"
        return await _form(request, person, target, 400, problem=problem)
    except NotAuthenticated:  # the session ended or the account was disabled meanwhile
        return to_login(request, target)
    return redirect(target)


async def _form(
    request: Request,
    person: AuthUser,
    target: str,
    status: int = 200,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response:
    """The page with what the account can prove itself with."""
    runtime = runtime_of(request)
    account = await runtime.accounts.users.get(person.id)
    session_id = session_id_of(request, person)
    if account is None or account.disabled or session_id is None:
        return to_login(request, target)
    factors = await runtime.factors.status(person.id)
    context: dict[str, Any] = {"problem": None, "wait": None, **extra}
    return page(
        request,
        "reauth.html",
        status,
        headers,
        caller=person,
        account=account,
        csrf_token=runtime.sessions.csrf_token(session_id),
        next=target,
        totp=factors.totp,
        passkeys=bool(factors.passkeys),
        passkey_script=bool(factors.passkeys),
        **context,
    )
