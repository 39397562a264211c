"""The JSON API: accounts, the session strategy, and what both strategies share."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse

from authward.accounts.models import User
from authward.auth import ALL_VIAS
from authward.callers import AuthUser
from authward.errors import InvalidCredentials, NotAuthenticated, TooManyAttempts
from authward.factors.models import LoginMode
from authward.metrics import LOGINS
from authward.web.accepted import accepted, later
from authward.web.addresses import client_address
from authward.web.auth import assurance_of, require, runtime_of, session_id_of
from authward.web.bodies import read_fields
from authward.web.origin import check_origin
from authward.web.routing import AuthwardRoute
from authward.web.routing import device_of as device_of  # re-exported: pages import it here
from authward.web.schemas import (
    AcceptedOut,
    Credentials,
    DeviceOut,
    ErrorOut,
    InvalidInputOut,
    MeOut,
    MfaRequiredOut,
    PasswordChangeIn,
    RegisterIn,
    SessionLoginOut,
    UserOut,
)
from authward.web.security import Guard
from authward.web.transports import (
    clear_session_cookie,
    clear_token_cookies,
    read_session_cookie,
    refresh_path,
    set_session_cookie,
)

# The routes both strategies share, and the session strategy's own: an app that uses
# tokens alone (`Authward(strategies={"jwt"})`) includes the first without the second.
# JSON bodies need a JSON content type, whatever the including app chose: a cross-site
# page can post text/plain, or a body with no type at all, without a CORS preflight.
router = APIRouter(prefix="/auth", route_class=AuthwardRoute, strict_content_type=True)
session_router = APIRouter(prefix="/auth", route_class=AuthwardRoute, strict_content_type=True)
# Any credential: the bearer token or the session cookie (so both schemes, in /docs).
Authenticated = Annotated[AuthUser, Depends(Guard(require, ALL_VIAS))]

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    **{code: {"model": ErrorOut} for code in (400, 401, 403, 404, 409, 413, 429, 503)},
    422: {"model": InvalidInputOut},
}
CREDENTIALS_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": Credentials.model_json_schema()},
            "application/x-www-form-urlencoded": {"schema": Credentials.model_json_schema()},
        },
    }
}


async def login(request: Request, strategy: str, email: str, password: str) -> User:
    """Check credentials for a login by either strategy, counting the outcome."""
    address = client_address(request.scope, runtime_of(request).settings.trusted_proxies)
    try:
        user = await runtime_of(request).accounts.authenticate(email, password, address=address)
    except TooManyAttempts:
        LOGINS.labels(strategy, "throttled").inc()
        raise
    except InvalidCredentials:
        LOGINS.labels(strategy, "failed").inc()
        raise
    LOGINS.labels(strategy, "ok").inc()
    return user


@dataclass(frozen=True, slots=True)
class Owed:
    """A second step opened: the ``mfa_token`` the client holds, and how it may finish."""

    mfa_token: str = field(repr=False)
    methods: list[str]


async def second_step(request: Request, user: User, mode: LoginMode) -> Owed | None:
    """The password was right: if the account has a second factor, open the second step
    and return its ``mfa_token``; None when the login may finish now.

    Every login (the session's, the token's, the page's) asks this between the password
    and the session or tokens: no way in skips the factor.
    """
    factors = runtime_of(request).factors
    methods = await factors.methods(user.id)
    if not methods:
        return None
    return Owed(await factors.challenge(user.id, mode), methods)


def mfa_required(owed: Owed) -> JSONResponse:
    """The first step's answer when a second factor is owed: no cookie, no token."""
    body = MfaRequiredOut.model_validate({"mfa_token": owed.mfa_token, "methods": owed.methods})
    return JSONResponse(body.model_dump(), headers={"Cache-Control": "no-store"})


async def session_answer(
    request: Request, user: User, amr: tuple[str, ...] = ("pwd",)
) -> JSONResponse:
    """Finish a session login: a new session in the cookie, its CSRF token in the body."""
    runtime = runtime_of(request)
    # An id the browser sent before login is never kept (no fixation): end it outright.
    if (previous := read_session_cookie(request, runtime.settings)) is not None:
        await runtime.sessions.end(previous)
    started = await runtime.sessions.start(user.id, device_of(request), amr=amr)
    body = SessionLoginOut(
        user=UserOut(id=user.id, email=user.email), csrf_token=started.csrf_token
    )
    response = JSONResponse(body.model_dump())
    set_session_cookie(response, started.session_id, runtime.settings)
    return response


@router.post(
    "/register",
    status_code=201,
    response_model=UserOut,
    responses={**ERROR_RESPONSES, 202: {"model": AcceptedOut}},
)
async def register(body: RegisterIn, request: Request) -> UserOut | JSONResponse:
    """Create an account (409 when the email is taken, 422 when malformed, 429 throttled).

    With AUTHWARD_EMAIL_VERIFICATION=required: 202 with one body for a new and a taken
    email alike; the account is made, and the mail sent, after the answer.
    """
    runtime = runtime_of(request)
    address = client_address(request.scope, runtime.settings.trusted_proxies)
    registration = runtime.flows.registration
    if registration.answers_alike:
        normalized = await registration.admit(body.email, body.password, address=address)
        return accepted(later(registration.complete, normalized, body.password))
    user = await registration.register(body.email, body.password, address=address)
    return UserOut(id=user.id, email=user.email)


@session_router.post(
    "/session/login",
    response_model=SessionLoginOut | MfaRequiredOut,
    responses=ERROR_RESPONSES,
    openapi_extra=CREDENTIALS_BODY,
)
async def session_login(request: Request) -> JSONResponse:
    """Start a session: a new id in an HttpOnly cookie, and the CSRF token in the body.

    With a second factor on, the answer is ``mfa_required`` instead (no cookie): the
    session starts at ``POST /auth/mfa``.

    A browser's request from another site is refused (403) before anything is read: a
    forged login would sign the victim into the attacker's account (login CSRF).
    """
    check_origin(request)
    fields = await read_fields(request, "email", "password")
    user = await login(request, "session", fields["email"], fields["password"])
    if (owed := await second_step(request, user, "session")) is not None:
        return mfa_required(owed)
    return await session_answer(request, user)


@session_router.post("/session/logout", status_code=204, responses=ERROR_RESPONSES)
async def session_logout(request: Request, principal: Authenticated) -> Response:
    """End this session (CSRF token required) and clear its cookie."""
    runtime = runtime_of(request)
    if (session_id := session_id_of(request, principal)) is None:
        raise NotAuthenticated  # a bearer token has no session to log out of
    await runtime.sessions.log_out(session_id)
    response = Response(status_code=204, headers={"Clear-Site-Data": '"cookies"'})
    clear_session_cookie(response, runtime.settings)
    return response


@router.get("/me", response_model=MeOut, responses=ERROR_RESPONSES)
async def me(request: Request, principal: Authenticated) -> MeOut:
    """Who the session cookie or bearer token belongs to, and how they signed in."""
    accounts = runtime_of(request).accounts
    # A repeat caller's account is in this node's cache (kept true by the revocation bus).
    account = accounts.kept_account(principal.id) or await accounts.account(principal.id)
    if account is None or account.disabled:
        raise InvalidCredentials
    assurance = assurance_of(principal)
    return MeOut(
        id=account.id,
        email=account.email,
        auth=principal.via,
        auth_time=assurance.auth_time,
        amr=list(assurance.amr),
        aal=assurance.acr,
        email_verified=account.email_verified,
    )


@router.get("/sessions", response_model=list[DeviceOut], responses=ERROR_RESPONSES)
async def list_sessions(request: Request, principal: Authenticated) -> list[DeviceOut]:
    """The user's live sessions and token families, oldest first."""
    runtime = runtime_of(request)
    devices = [
        DeviceOut(
            id=s.handle,
            kind="session",
            created_at=s.created_at,
            last_seen_at=s.last_seen_at,
            user_agent=s.device.user_agent,
            ip=s.device.ip,
            current=principal.via == "session" and s.handle == principal.handle,
        )
        for s in await runtime.sessions.list_live(principal.id)
    ]
    devices += [
        DeviceOut(
            id=f.id,
            kind="jwt",
            created_at=f.created_at,
            last_seen_at=f.last_seen_at,
            user_agent=f.device.user_agent,
            ip=f.device.ip,
            current=principal.via == "jwt" and f.id == principal.handle,
        )
        for f in await runtime.tokens.list_families(principal.id)
    ]
    return sorted(devices, key=lambda d: d.created_at)


@router.delete("/sessions/{handle}", status_code=204, responses=ERROR_RESPONSES)
async def end_session(handle: str, request: Request, principal: Authenticated) -> Response:
    """End one of your sessions or token families (404 for anyone else's)."""
    runtime = runtime_of(request)
    await runtime.lifecycle.end_by_handle(principal.id, handle)
    return Response(status_code=204)


@router.post("/logout-all", status_code=204, responses=ERROR_RESPONSES)
async def logout_all(request: Request, principal: Authenticated) -> Response:
    """End every session and token family of the user, this one included."""
    runtime = runtime_of(request)
    await runtime.lifecycle.sign_out_everywhere(principal.id)
    response = Response(status_code=204)
    if principal.via == "session":
        clear_session_cookie(response, runtime.settings)
        response.headers["Clear-Site-Data"] = '"cookies"'
    if runtime.settings.token_cookies:  # every family just ended: its cookies are dead weight
        path = refresh_path(request.scope)
        clear_token_cookies(response, refresh_path=path, settings=runtime.settings)
    return response


@router.post("/password", status_code=204, responses=ERROR_RESPONSES)
async def change_password(
    body: PasswordChangeIn, request: Request, principal: Authenticated
) -> Response:
    """Change the password; every other session and token family ends (403: wrong current)."""
    runtime = runtime_of(request)
    await runtime.lifecycle.change_password(
        principal.id,
        body.current_password,
        body.new_password,
        address=client_address(request.scope, runtime.settings.trusted_proxies),
        keep_session_id=session_id_of(request, principal),
        keep_family=principal.handle if principal.via == "jwt" else None,
    )
    return Response(status_code=204)
