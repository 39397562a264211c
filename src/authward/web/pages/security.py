"""The security page: an authenticator app (TOTP), recovery codes, passkeys.

Every change needs a recent login (step-up): the page itself, and each change's POST,
send a session that signed in longer ago than ``AUTHWARD_REAUTH_MAX_AGE`` to /reauth
first, which brings the person back here. The forms ask for no password of their own:
one way to prove it is you, on one page. Every form carries the session's CSRF token.
Secrets (the TOTP secret and its QR code, recovery codes) are shown once, in the answer
to the POST that made them, never from a URL a browser keeps; every page is
``no-store``.
"""

from __future__ import annotations

from typing import Any, Final

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from authward.callers import AuthUser
from authward.errors import (
    FactorExists,
    InvalidCode,
    InvalidInput,
    NotFound,
    TooManyAttempts,
    TooManyPasskeys,
)
from authward.web.auth import runtime_of, session_id_of
from authward.web.pages.account import to_login
from authward.web.pages.guard import credential_of, field
from authward.web.pages.reauth import stale
from authward.web.pages.render import duration, redirect
from authward.web.pages.route import PageRoute, page, signed_in

router = APIRouter(route_class=PageRoute)
HERE: Final = "/account/security"

NOTICES: Final = {
    "passkey-added": "Passkey added. You can now sign in with it, without a password.",
    "passkey-removed": "Passkey removed. It no longer signs in to this account.",
    "totp-off": "The authenticator app is off, and the recovery codes are void.",
}


@router.get(HERE)
async def security_page(request: Request) -> Response:
    if (person := await signed_in(request)) is None:
        return to_login(request, HERE)
    if (detour := await stale(request, person, HERE)) is not None:
        return detour
    notice = NOTICES.get(request.query_params.get("notice", ""))
    return await _security(request, person, notice=notice)


@router.post(HERE + "/totp")
async def begin_totp(request: Request) -> Response:
    """Show a new TOTP secret and its QR code, to confirm with a first code."""
    if (person := await signed_in(request)) is None:
        return to_login(request, HERE)
    runtime = runtime_of(request)
    if (detour := await stale(request, person, HERE)) is not None:
        return detour
    if (account := await runtime.accounts.users.get(person.id)) is None:
        return to_login(request, HERE)
    try:
        enrolment = await runtime.factors.begin_totp(person.id, account.email)
    except FactorExists:
        return redirect(HERE)
    return await _security(request, person, enrolment=enrolment, confirming=True)


@router.post(HERE + "/totp/confirm")
async def confirm_totp(request: Request) -> Response:
    """Turn TOTP on with the app's first code; show the ten recovery codes, once.

    No step-up of its own: the code proves the person holds the secret, and the secret
    was shown only in the answer to the start, which needed a recent login.
    """
    if (person := await signed_in(request)) is None:
        return to_login(request, HERE)
    code = field(await request.form(), "code")
    try:
        codes = await runtime_of(request).factors.confirm_totp(person.id, code)
    except TooManyAttempts as exc:
        problem = f"Too many wrong codes. Please try again in {duration(exc.retry_after)}."
        return await _security(request, person, 429, totp_problem=problem, confirming=True)
    except InvalidCode:
        problem = "That code is not correct. Enter the code your app shows now."
        return await _security(request, person, 400, totp_problem=problem, confirming=True)
    except (NotFound, FactorExists):
        return redirect(HERE)
    return await _security(request, person, codes=codes)


@router.post(HERE + "/totp/off")
async def disable_totp(request: Request) -> Response:
    if (person := await signed_in(request)) is None:
        return to_login(request, HERE)
    if (detour := await stale(request, person, HERE)) is not None:
        return detour
    try:
        await runtime_of(request).factors.disable_totp(person.id)
    except NotFound:
        return redirect(HERE)
    return redirect(HERE + "?notice=totp-off")


@router.post(HERE + "/recovery-codes")
async def new_recovery_codes(request: Request) -> Response:
    """Ten new recovery codes, shown once; the old ones are void."""
    if (person := await signed_in(request)) is None:
        return to_login(request, HERE)
    if (detour := await stale(request, person, HERE)) is not None:
        return detour
    try:
        codes = await runtime_of(request).factors.new_recovery_codes(person.id)
    except NotFound:
        return redirect(HERE)
    return await _security(request, person, codes=codes)


@router.post(HERE + "/passkeys")
async def add_passkey(request: Request) -> Response:
    """Keep the passkey the script made (its answer is in `credential`), under a name."""
    if (person := await signed_in(request)) is None:
        return to_login(request, HERE)
    if (detour := await stale(request, person, HERE)) is not None:
        return detour
    form = await request.form()
    try:
        await runtime_of(request).passkeys.register(
            person.id, credential_of(form), field(form, "name")
        )
    except InvalidInput as exc:
        return await _security(request, person, 400, passkey_problem=exc.message)
    except FactorExists:
        problem = "This passkey is already on your account."
        return await _security(request, person, 409, passkey_problem=problem)
    except TooManyPasskeys as exc:
        return await _security(request, person, 409, passkey_problem=exc.detail)
    return redirect(HERE + "?notice=passkey-added")


@router.post(HERE + "/passkeys/remove")
async def remove_passkey(request: Request) -> Response:
    if (person := await signed_in(request)) is None:
        return to_login(request, HERE)
    if (detour := await stale(request, person, HERE)) is not None:
        return detour
    passkey_id = field(await request.form(), "passkey")
    try:
        await runtime_of(request).passkeys.remove(person.id, passkey_id)
    except NotFound:
        return redirect(HERE)
    return redirect(HERE + "?notice=passkey-removed")


async def _security(
    request: Request, person: AuthUser, status: int = 200, **extra: Any
) -> Response:
    runtime = runtime_of(request)
    account = await runtime.accounts.users.get(person.id)
    session_id = session_id_of(request, person)
    if account is None or account.disabled or session_id is None:
        return to_login(request, HERE)  # ended or disabled since it was checked
    factors = await runtime.factors.status(person.id)
    pending = await runtime.factors.store.get_totp(person.id)
    context: dict[str, Any] = {
        "notice": None,
        "totp_problem": None,
        "passkey_problem": None,
        "enrolment": None,
        "codes": None,
        "confirming": False,
        **extra,
    }
    context["confirming"] = context["confirming"] and pending is not None and not factors.totp
    return page(
        request,
        "security.html",
        status,
        caller=person,
        account=account,
        csrf_token=runtime.sessions.csrf_token(session_id),
        active="security",
        factors=factors,
        now=runtime.clock.now(),
        passkey_script=True,
        max_passkeys=runtime.passkeys.max_passkeys,
        **context,
    )
