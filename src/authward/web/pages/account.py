"""The account page: who you are, where you are signed in, and the buttons to end it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from authward.callers import AuthUser
from authward.devices import describe_all
from authward.errors import InvalidInput, NotFound, TooManyAttempts, WrongPassword
from authward.web.accepted import later
from authward.web.addresses import client_address
from authward.web.auth import runtime_of, session_id_of
from authward.web.pages.guard import field
from authward.web.pages.render import duration, login_url, redirect
from authward.web.pages.route import PageRoute, page, signed_in
from authward.web.routing import device_of
from authward.web.transports import clear_session_cookie

router = APIRouter(route_class=PageRoute)

NOTICES: Final = {
    "ended": "That session was signed out.",
    "gone": "That session had already ended.",
    "password": "Password changed. Every other session and token was signed out.",
    "verified": "Your email is confirmed.",
    "resent": "A new confirmation link is on its way to your address.",
    "email": "Check the new address: the change takes effect when you open the link mailed "
    "there. Your current address was told.",
}


@dataclass(frozen=True, slots=True)
class DeviceRow:
    """One line of the device list: a session or a token family, by its public handle."""

    handle: str
    kind: str  # "session" | "token"
    name: str
    ip: str
    created_at: datetime
    last_seen_at: datetime
    current: bool


@router.get("/")
async def home() -> Response:
    """The site's root is the account page (which sends a stranger on to sign in)."""
    return redirect("/account")


@router.get("/account")
async def account_page(request: Request) -> Response:
    if (caller := await signed_in(request)) is None:
        return to_login(request, "/account")
    notice = NOTICES.get(request.query_params.get("notice", ""))
    return await _account(request, caller, notice=notice)


@router.post("/account/sign-out")
async def sign_out_one(request: Request) -> Response:
    """Sign out one session or token family of yours, by its handle."""
    if (caller := await signed_in(request)) is None:
        return to_login(request, "/account")
    runtime = runtime_of(request)
    handle = field(await request.form(), "handle")
    if handle == caller.handle and (session_id := session_id_of(request, caller)) is not None:
        await runtime.sessions.log_out(session_id)
        return to_login(request, None)
    try:
        await runtime.lifecycle.end_by_handle(caller.id, handle)
    except NotFound:
        return redirect("/account?notice=gone")
    return redirect("/account?notice=ended")


@router.post("/account/sign-out-everywhere")
async def sign_out_everywhere(request: Request) -> Response:
    """End every session and token family of the user, this one included."""
    if (caller := await signed_in(request)) is None:
        return to_login(request, "/account")
    await runtime_of(request).lifecycle.sign_out_everywhere(caller.id)
    response = redirect("/login?notice=everywhere")
    clear_session_cookie(response, runtime_of(request).settings)
    return response


@router.post("/account/password")
async def change_password(request: Request) -> Response:
    """Change the password; every other session and token family is signed out."""
    if (caller := await signed_in(request)) is None:
        return to_login(request, "/account")
    runtime = runtime_of(request)
    form = await request.form()
    try:
        await runtime.lifecycle.change_password(
            caller.id,
            field(form, "current_password"),
            field(form, "new_password"),
            address=device_of(request).ip,
            keep_session_id=session_id_of(request, caller),
        )
    except TooManyAttempts as exc:
        problem = f"Too many wrong passwords. Please try again in {duration(exc.retry_after)}."
        response = await _account(request, caller, status=429, password_problem=problem)
        response.headers["retry-after"] = str(exc.retry_after)
        return response
    except WrongPassword:
        problem = "Your current password is not correct."
        return await _account(request, caller, status=400, password_problem=problem)
    except InvalidInput as exc:
        return await _account(request, caller, status=400, password_problem=exc.message)
    return redirect("/account?notice=password")


@router.post("/account/verify/resend")
async def resend_verification(request: Request) -> Response:
    """Mail a fresh confirmation link to the account's address (after the answer)."""
    if (caller := await signed_in(request)) is None:
        return to_login(request, "/account")
    runtime = runtime_of(request)
    verification = runtime.flows.verification
    try:
        await verification.admit(client_address(request.scope, runtime.settings.trusted_proxies))
    except TooManyAttempts as exc:
        problem = f"Too many requests. Please try again in {duration(exc.retry_after)}."
        response = await _account(request, caller, status=429, verify_problem=problem)
        response.headers["retry-after"] = str(exc.retry_after)
        return response
    response = redirect("/account?notice=resent")
    response.background = later(verification.resend_for, caller.id)
    return response


@router.post("/account/email")
async def change_email(request: Request) -> Response:
    """Ask to move the account to a new address: nothing changes until its link is used.

    The same notice follows whether the new address is free or taken (the mail says which,
    to the right person): the page tells nobody whether an address has an account.
    """
    if (caller := await signed_in(request)) is None:
        return to_login(request, "/account")
    runtime = runtime_of(request)
    form = await request.form()
    email_change = runtime.flows.email_change
    try:
        new_email = await email_change.admit(
            caller.id,
            field(form, "new_email"),
            field(form, "current_password"),
            address=device_of(request).ip,
        )
    except TooManyAttempts as exc:
        problem = f"Too many wrong passwords. Please try again in {duration(exc.retry_after)}."
        response = await _account(request, caller, status=429, email_problem=problem)
        response.headers["retry-after"] = str(exc.retry_after)
        return response
    except WrongPassword:
        problem = "Your current password is not correct."
        return await _account(request, caller, status=400, email_problem=problem)
    except InvalidInput as exc:
        return await _account(request, caller, status=400, email_problem=exc.message)
    except NotFound:  # disabled since the session was checked
        return to_login(request, "/account")
    response = redirect("/account?notice=email")
    response.background = later(email_change.send, caller.id, new_email)
    return response


def to_login(request: Request, next_path: str | None) -> Response:
    response = redirect(login_url(next_path))
    clear_session_cookie(response, runtime_of(request).settings)
    return response


async def _account(request: Request, caller: AuthUser, status: int = 200, **extra: Any) -> Response:
    """The account page of `caller`: the account, this session and the others, by handle."""
    runtime = runtime_of(request)
    account = await runtime.accounts.users.get(caller.id)
    sessions = await runtime.sessions.list_live(caller.id)
    current = next((s for s in sessions if s.handle == caller.handle), None)
    session_id = session_id_of(request, caller)
    if account is None or account.disabled or current is None or session_id is None:
        return to_login(request, "/account")  # ended or disabled since it was checked
    families = await runtime.tokens.list_families(caller.id)
    agents = [s.device.user_agent for s in sessions] + [f.device.user_agent for f in families]
    names = await describe_all(agents)
    rows = [
        DeviceRow(
            s.handle,
            "session",
            names[s.device.user_agent],
            s.device.ip,
            s.created_at,
            s.last_seen_at,
            s.handle == caller.handle,
        )
        for s in sessions
    ] + [
        DeviceRow(
            f.id,
            "token",
            names[f.device.user_agent],
            f.device.ip,
            f.created_at,
            f.last_seen_at,
            False,
        )
        for f in families
    ]
    rows.sort(key=lambda row: row.last_seen_at, reverse=True)
    context: dict[str, Any] = {
        "notice": None,
        "password_problem": None,
        "email_problem": None,
        "verify_problem": None,
        **extra,
    }
    return page(
        request,
        "account.html",
        status,
        caller=caller,
        account=account,
        csrf_token=runtime.sessions.csrf_token(session_id),
        this=next((row for row in rows if row.current), None),
        others=[row for row in rows if not row.current],
        session=current,
        idle_ttl=runtime.settings.session_idle_ttl,
        verification=runtime.settings.email_verification,
        now=runtime.clock.now(),
        **context,
    )
